"""The provisioning bundle's contract, shared by the console (writes) and the device (reads).

``manifest`` holds the manifest and report models and the signed bytes;
``secrets_box`` encrypts the named secrets.
"""
