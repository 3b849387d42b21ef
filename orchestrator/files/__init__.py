"""Files: the Files API's use cases (`service`) and where the bytes live (`storage`)."""
