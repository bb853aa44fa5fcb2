"""Datasets: the built-in digits, uploaded archives, server image folders and hub names.

Everything here but ``loading`` is free of torch, so the API can import it.
"""
