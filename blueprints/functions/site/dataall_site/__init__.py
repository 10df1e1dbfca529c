"""The platform's web page: published to S3 (CloudFront) or served to an internal ALB."""
