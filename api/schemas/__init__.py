"""Request and response models: the API's documentation."""
