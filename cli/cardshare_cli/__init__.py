"""cardshare, the operator CLI: what each account can do with a card, why, and repairs.

It reads only AWS APIs (CloudFormation outputs, SageMaker, RAM, DynamoDB, Step Functions, SQS), so
the same command works against a real account and against ``make serve``.
"""
