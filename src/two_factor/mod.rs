//! The Two Factor Authentication addon. Uses the host only through `plugin`.

use crate::plugin::Addon;

pub const ADDON_ID: &str = "two_factor";

#[derive(Default)]
pub struct TwoFactorAddon;

impl TwoFactorAddon {
    pub fn new(_config: TwoFactorConfig) -> TwoFactorAddon {
        TwoFactorAddon
    }
}

#[async_trait::async_trait(?Send)]
impl Addon for TwoFactorAddon {
    fn id(&self) -> &'static str {
        ADDON_ID
    }
}

/// Where the addon sends its requests.
#[derive(Clone, Debug)]
pub struct TwoFactorConfig {
    pub gateway_url: String,
    pub sandbox_url: String,
    pub timeout: std::time::Duration,
}
