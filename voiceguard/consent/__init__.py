"""Consent records: the model, the stores, and the registry the proxy reads consent through."""
