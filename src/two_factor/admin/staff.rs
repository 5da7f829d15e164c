//! The store owner's overview of who has a second factor: badges on the
//! Users list, the "Admins and vendors without 2FA" filter, and the
//! dashboard's warning that links to it.

use std::collections::HashMap;

use crate::plugin::{
    AddonError, BadgeTone, DashboardNotice, HostHandle, Role, UserBadge, UserFilter,
};
use crate::two_factor::factors::{self, Kinds};
use crate::two_factor::ADDON_ID;

/// The filter's key (`/admin/users?filter=two_factor.staff_without_2fa`).
pub const STAFF_WITHOUT_2FA: &str = "staff_without_2fa";

pub fn filters() -> Vec<UserFilter> {
    vec![UserFilter {
        key: STAFF_WITHOUT_2FA.into(),
        label: "Admins and vendors without 2FA".into(),
    }]
}

pub async fn badges(
    host: &HostHandle,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<UserBadge>>, AddonError> {
    let list = ids.to_vec();
    let kinds = host
        .db()
        .run(move |conn| factors::kinds_of(conn, &list))
        .await?;
    Ok(ids
        .iter()
        .map(|id| (*id, badges_for(kinds.get(id).copied().unwrap_or_default())))
        .collect())
}

fn badges_for(k: Kinds) -> Vec<UserBadge> {
    let on = |label: &str| UserBadge {
        label: label.into(),
        tone: BadgeTone::On,
    };
    let mut out = Vec::new();
    if k.app {
        out.push(on("App"));
    }
    if k.sms {
        out.push(on("SMS"));
    }
    if k.passkey {
        out.push(on("Passkey"));
    }
    if out.is_empty() {
        out.push(UserBadge {
            label: "No 2FA".into(),
            tone: BadgeTone::Off,
        });
    }
    out
}

/// Admin and vendor accounts (they sign in to the admin) with no factor.
pub async fn staff_without_factor(host: &HostHandle) -> Result<Vec<i64>, AddonError> {
    let staff: Vec<i64> = host
        .accounts_with_roles(&[Role::Admin, Role::Vendor])
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    let ids = staff.clone();
    let kinds = host
        .db()
        .run(move |conn| factors::kinds_of(conn, &ids))
        .await?;
    Ok(staff
        .into_iter()
        .filter(|id| !kinds.get(id).is_some_and(|k| k.any()))
        .collect())
}

pub async fn filter(host: &HostHandle, key: &str) -> Result<Option<Vec<i64>>, AddonError> {
    if key != STAFF_WITHOUT_2FA {
        return Ok(None);
    }
    Ok(Some(staff_without_factor(host).await?))
}

pub async fn dashboard_notices(host: &HostHandle) -> Result<Vec<DashboardNotice>, AddonError> {
    let n = staff_without_factor(host).await?.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let text = if n == 1 {
        "1 admin or vendor account has no second factor: its password alone signs it in to the admin.".to_string()
    } else {
        format!("{n} admin or vendor accounts have no second factor: their passwords alone sign them in to the admin.")
    };
    Ok(vec![DashboardNotice {
        text,
        link_label: "Show them".into(),
        link_path: format!("/admin/users?filter={ADDON_ID}.{STAFF_WITHOUT_2FA}"),
    }])
}
