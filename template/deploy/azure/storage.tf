# Template file (copier-mlops): `copier update` merges new versions into it.
# Data and artefacts: training data beyond the golden set, models, reports. Private,
# Entra ID only (no shared keys), versioned with soft delete.
resource "azurerm_storage_account" "artefacts" {
  #checkov:skip=CKV2_AZURE_1:encrypted with Microsoft-managed keys; a customer-managed key needs a Key Vault with purge protection
  #checkov:skip=CKV2_AZURE_33:no private endpoint: the service and CI reach the account over Entra ID-authenticated HTTPS
  #checkov:skip=CKV_AZURE_59:public network access stays on for CI runners; anonymous and shared-key access are off
  #checkov:skip=CKV_AZURE_35:the default network rule stays Allow for CI runners; every request needs an Entra ID token
  #checkov:skip=CKV_AZURE_33:the account holds no queues
  #checkov:skip=CKV2_AZURE_41:shared keys are disabled, so no SAS can be signed with them
  name                            = substr("st${local.compact}", 0, 24)
  location                        = azurerm_resource_group.main.location
  resource_group_name             = azurerm_resource_group.main.name
  account_tier                    = "Standard"
  account_replication_type        = "GRS"
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = false
  default_to_oauth_authentication = true

  blob_properties {
    versioning_enabled = true

    delete_retention_policy {
      days = 30
    }

    container_delete_retention_policy {
      days = 30
    }
  }
}

resource "azurerm_storage_container" "artefacts" {
  #checkov:skip=CKV2_AZURE_21:reads are logged by the blob service's diagnostic setting below; storage insights would need the disabled account key
  name                  = "artefacts"
  storage_account_id    = azurerm_storage_account.artefacts.id
  container_access_type = "private"
}

# Every read, write and delete of a blob, in Log Analytics.
resource "azurerm_monitor_diagnostic_setting" "artefacts_blobs" {
  name                       = "blob-access"
  target_resource_id         = "${azurerm_storage_account.artefacts.id}/blobServices/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id

  enabled_log {
    category = "StorageRead"
  }

  enabled_log {
    category = "StorageWrite"
  }

  enabled_log {
    category = "StorageDelete"
  }
}
