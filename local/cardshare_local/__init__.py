"""The embedded AWS: moto plus the extensions cardshare needs, the stack deployed from template.yaml.

Never shipped to Lambda: the layer holds only ``layers/cardshare``.
"""
