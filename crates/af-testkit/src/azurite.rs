//! The Azure Blob Storage emulator (azurite) outside this process, when
//! `AF_TEST_AZURITE_CONTAINER` names a container on it (`.ci/run` installs
//! azurite from the npm registry, starts it on object_store's emulator
//! address, `AZURITE_BLOB_STORAGE_URL` or `http://127.0.0.1:10000`, makes
//! the container and sets `REQUIRE_AZURITE=1`). Each test gets a store of
//! its own under a fresh prefix of that container.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::prefix::PrefixStore;
use object_store::{ClientOptions, RetryConfig};

use crate::s3::Bucket;

/// The emulator's container the tests share.
pub struct Azurite {
    container: String,
}

/// The emulator, if one is configured. Without one the test prints SKIP
/// and gets `None`; with `REQUIRE_AZURITE=1` that is a failure instead.
pub fn azurite(test: &str) -> Option<Azurite> {
    crate::server(
        "AF_TEST_AZURITE_CONTAINER",
        "REQUIRE_AZURITE",
        test,
        "a container on azurite",
    )
    .map(|container| Azurite { container })
}

impl Azurite {
    /// A store of a fresh prefix of the container, as a [`Bucket`] (its
    /// endpoint and name are for messages only).
    pub fn fresh_bucket(&self) -> Bucket {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let prefix = format!("t-{}-{n}", std::process::id());
        Bucket {
            endpoint: "azurite".into(),
            name: format!("{}/{prefix}", self.container),
            store: client(&self.container, &prefix),
            azure: Some((self.container.clone(), prefix)),
        }
    }
}

/// A client of the emulator's `container`, under `prefix`, that never
/// retries.
pub fn client(container: &str, prefix: &str) -> Arc<dyn ObjectStore> {
    let retry = RetryConfig {
        max_retries: 0,
        ..RetryConfig::default()
    };
    let azure = MicrosoftAzureBuilder::new()
        .with_use_emulator(true)
        .with_container_name(container)
        .with_retry(retry)
        .with_client_options(ClientOptions::new().with_allow_http(true))
        .build()
        .unwrap();
    Arc::new(PrefixStore::new(azure, prefix)) as Arc<dyn ObjectStore>
}
