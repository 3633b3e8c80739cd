"""Biometric minimisation around the proxy: speakers on a call, voice anonymisation, artefact retention."""
