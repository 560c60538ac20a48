"""IAM: users, access keys, roles, groups, managed and inline policies, instance profiles,
OpenID Connect providers and tags - the control plane, global per account."""
