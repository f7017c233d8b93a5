"""Provider adapters: the narrow streaming interface, the registry, built-ins.

SDKs are never imported here: an adapter imports its SDK the first time it runs.
"""
