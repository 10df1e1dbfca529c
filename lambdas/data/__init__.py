"""Data access: the only room that creates AWS clients. The ledger (DynamoDB), the stage
stacks (CloudFormation), the release store (S3)."""
