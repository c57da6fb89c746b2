"""cardshare: keep SageMaker model cards shared with exactly the accounts their status allows."""
