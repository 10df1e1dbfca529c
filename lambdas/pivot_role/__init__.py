"""The pivot role's custom resources: its policies (split under IAM's limit) and the role, external id
and StackSet they make."""
