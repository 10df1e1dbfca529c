"""How the sandbox's CloudFormation makes each resource type: one provider per family of types
(`registry.ProviderRegistry` picks it). The package itself imports nothing, so a provider can
import a sibling module without running the registry that imports every provider."""
