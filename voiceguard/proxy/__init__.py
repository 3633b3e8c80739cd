"""The I/O side of the proxy: the sockets adapters never see."""
