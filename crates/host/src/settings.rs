//! The guest's environment: the operator's `PORTCULLIS_*` variables, completed with the keys
//! and bootstrap token of the data directory when the operator gives none.

use anyhow::{Context as _, Result};
use portcullis::Settings;

use crate::data_dir::DataDir;

/// Names the header through which the host passes the client address to the guest.
pub const CLIENT_IP_HEADER: &str = "x-portcullis-client-ip";

/// The variables the guest sees, checked by the core's own parser.
pub fn guest_env(data: &DataDir) -> Result<Vec<(String, String)>> {
    let mut vars: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("PORTCULLIS_")).collect();
    let given = Settings::from_env(vars.clone()).context("invalid PORTCULLIS_* settings")?;
    if given.encryption_keys.is_empty() {
        vars.push(("PORTCULLIS_ENCRYPTION_KEYS".into(), data.encryption_keys()?.join(",")));
    }
    if given.bootstrap_token.is_none() {
        let (token, created) = data.bootstrap_token(&given.token_prefix)?;
        if created {
            // Printed once, on the run that makes it; `portcullis bootstrap-token` shows it again.
            println!("portcullis: bootstrap admin token (stored in the data directory): {token}");
        }
        vars.push(("PORTCULLIS_BOOTSTRAP_TOKEN".into(), token));
    }
    vars.push(("PORTCULLIS_HOST_CLIENT_IP_HEADER".into(), CLIENT_IP_HEADER.into()));
    let settings = Settings::from_env(vars.clone()).context("invalid settings")?;
    settings.key_ring().context("invalid encryption keys")?;
    settings.token_config().context("invalid token settings")?.validated().context("invalid token settings")?;
    Ok(vars)
}
