//! The Authy-compatible sandbox used in test mode (see shared authy-api.md).
//! Mounted by the app under `/sandbox/authy`, or served standalone.

use async_trait::async_trait;

/// Decides, per request, which API keys the mounted sandbox accepts and
/// whether it is reachable at all (it is not in production mode unless the
/// operator says so). The app supplies it; the sandbox knows no addon.
#[async_trait(?Send)]
pub trait SandboxPolicy: Send + Sync + 'static {
    async fn accepted_keys(&self) -> Vec<String>;
    async fn is_available(&self) -> bool;
}
