"""API Gateway TOKEN authorizer that verifies the platform's Cognito JWTs."""
