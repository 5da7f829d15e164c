//! Who this store is to the browser's WebAuthn: the relying party id (the
//! host name of `server.public_url`) and the one origin whose signatures
//! count. A key made for `https://shop.example` signs nothing for another
//! origin, which is what makes it phishing-resistant.

use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, DiscoverableAuthentication, DiscoverableKey,
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid, WebauthnError,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};
use webauthn_rs_proto::ResidentKeyRequirement;

/// Why `server.public_url` cannot be a WebAuthn origin (checked at start-up).
#[derive(Debug, thiserror::Error)]
pub enum PublicUrlError {
    #[error("server.public_url {0:?} is not a URL; set it to the address shoppers open, e.g. https://shop.example.com")]
    NotAUrl(String),
    #[error("server.public_url {0:?} must start with https:// (or http:// for localhost), since browsers offer passkeys only to secure origins")]
    Scheme(String),
    #[error("server.public_url {0:?} must name a host (browsers refuse passkeys for IP addresses); use e.g. http://localhost:8080 or https://shop.example.com")]
    NotADomain(String),
    #[error(
        "server.public_url {0:?} must be an origin only: no path, query, fragment or user name"
    )]
    NotAnOrigin(String),
    #[error("server.public_url {0:?} is refused by the WebAuthn library: {1}")]
    Refused(String, String),
}

/// Parses `server.public_url` as a WebAuthn origin. The rules are the
/// browsers': a host name (not an IP address), https, or http only for
/// `localhost`, and nothing after the port.
pub fn parse_origin(public_url: &str) -> Result<Url, PublicUrlError> {
    let err = || public_url.to_string();
    let url = Url::parse(public_url).map_err(|_| PublicUrlError::NotAUrl(err()))?;
    let Some(domain) = url.domain() else {
        return match url.scheme() {
            "http" | "https" => Err(PublicUrlError::NotADomain(err())),
            _ => Err(PublicUrlError::Scheme(err())),
        };
    };
    let local = domain == "localhost" || domain.ends_with(".localhost");
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        _ => return Err(PublicUrlError::Scheme(err())),
    }
    if url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(PublicUrlError::NotAnOrigin(err()));
    }
    Ok(url)
}

/// The verifier for this store's origin.
pub struct RelyingParty {
    webauthn: Webauthn,
    origin: String,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("origin", &self.origin)
            .finish()
    }
}

impl RelyingParty {
    pub fn new(public_url: &str) -> Result<RelyingParty, PublicUrlError> {
        let url = parse_origin(public_url)?;
        let rp_id = url.domain().unwrap_or_default().to_string();
        let refused = |e: WebauthnError| PublicUrlError::Refused(public_url.into(), e.to_string());
        let webauthn = WebauthnBuilder::new(&rp_id, &url)
            .map_err(refused)?
            .rp_name(&rp_id)
            .build()
            .map_err(refused)?;
        Ok(RelyingParty {
            webauthn,
            origin: url.origin().ascii_serialization(),
        })
    }

    /// `https://shop.example.com`: the only origin signatures count for.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The options for the browser to make a new key for `user` (its
    /// opaque WebAuthn user handle, email and name), excluding the keys
    /// the account has (so one authenticator is not added twice), and the
    /// state to keep server-side until the answer comes.
    pub fn start_registration(
        &self,
        user: Uuid,
        email: &str,
        name: &str,
        existing: &[Passkey],
    ) -> Result<(CreationChallengeResponse, PasskeyRegistration), WebauthnError> {
        let exclude = existing.iter().map(|k| k.cred_id().clone()).collect();
        let (mut options, state) =
            self.webauthn
                .start_passkey_registration(user, email, name, Some(exclude))?;
        // Ask for a key the device keeps and can find by itself (a
        // discoverable credential), so that it also works for passkey
        // sign-in, with no email typed. "Preferred", not "required": a
        // security key that cannot store one still works as a second
        // factor. webauthn-rs asks for "discouraged", and does not check
        // this choice when the answer comes back.
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Preferred);
            selection.require_resident_key = false;
        }
        Ok((options, state))
    }

    pub fn finish_registration(
        &self,
        answer: &RegisterPublicKeyCredential,
        state: &PasskeyRegistration,
    ) -> Result<Passkey, WebauthnError> {
        self.webauthn.finish_passkey_registration(answer, state)
    }

    /// The options for the browser to sign with one of `keys`, and the
    /// state to keep server-side.
    pub fn start_sign_in(
        &self,
        keys: &[Passkey],
    ) -> Result<(RequestChallengeResponse, PasskeyAuthentication), WebauthnError> {
        self.webauthn.start_passkey_authentication(keys)
    }

    /// The options for passkey sign-in: no allowed list (the device offers
    /// the keys it keeps for this store) and user verification required,
    /// so the key is both factors. Shown by a button press, so the
    /// browser's modal prompt, not the autofill kind webauthn-rs asks for.
    pub fn start_passkey_sign_in(
        &self,
    ) -> Result<(RequestChallengeResponse, DiscoverableAuthentication), WebauthnError> {
        let (mut options, state) = self.webauthn.start_discoverable_authentication()?;
        options.mediation = None;
        Ok((options, state))
    }

    /// The user handle and credential id a passkey sign-in's answer
    /// claims, to find the key (not yet verified).
    pub fn claimed_key<'a>(
        &self,
        answer: &'a PublicKeyCredential,
    ) -> Result<(Uuid, &'a [u8]), WebauthnError> {
        self.webauthn.identify_discoverable_authentication(answer)
    }

    /// Checks a passkey sign-in's answer against the one stored key it
    /// claims: as `finish_sign_in`, user verification included.
    pub fn finish_passkey_sign_in(
        &self,
        answer: &PublicKeyCredential,
        state: DiscoverableAuthentication,
        key: &Passkey,
    ) -> Result<AuthenticationResult, WebauthnError> {
        self.webauthn.finish_discoverable_authentication(
            answer,
            state,
            &[DiscoverableKey::from(key)],
        )
    }

    /// Checks an assertion: the challenge of `state`, this origin, one of
    /// its keys, the signature, user verification, and a signature counter
    /// that went forward (`WebauthnError::CredentialPossibleCompromise`
    /// when not).
    pub fn finish_sign_in(
        &self,
        answer: &PublicKeyCredential,
        state: &PasskeyAuthentication,
    ) -> Result<AuthenticationResult, WebauthnError> {
        self.webauthn.finish_passkey_authentication(answer, state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_must_be_a_secure_origin_with_a_host_name() {
        for good in [
            "http://localhost:8080",
            "http://localhost:8080/",
            "https://shop.example.com",
            "https://shop.example.com:8443",
        ] {
            assert!(RelyingParty::new(good).is_ok(), "{good}");
        }
        assert_eq!(
            RelyingParty::new("https://Shop.Example.com/")
                .unwrap()
                .origin(),
            "https://shop.example.com"
        );
        for (bad, why) in [
            ("shop.example.com", "is not a URL"),
            ("http://shop.example.com", "must start with https://"),
            ("ftp://localhost", "must start with https://"),
            ("http://127.0.0.1:8080", "must name a host"),
            ("https://[::1]:8443", "must name a host"),
            ("https://shop.example.com/store", "origin only"),
            ("https://shop.example.com/?a=1", "origin only"),
        ] {
            let e = RelyingParty::new(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(e.contains("server.public_url"), "{e}");
        }
    }
}
