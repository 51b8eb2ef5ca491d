# Template file (copier-mlops): `copier update` merges new versions into it.
terraform {
  required_version = ">= 1.10"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State in a blob container, locked with a blob lease and read with Entra ID (no
  # storage keys). `make deploy` passes the account, container and key:
  # -backend-config="storage_account_name=..." and so on.
  backend "azurerm" {
    use_azuread_auth = true
  }
}

# The subscription comes from ARM_SUBSCRIPTION_ID; CD signs in with OIDC (ARM_USE_OIDC).
provider "azurerm" {
  features {}
}
