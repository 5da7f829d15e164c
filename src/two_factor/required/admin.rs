//! The store owner's view of the requirement: on the Users list, a badge
//! with each waiting account's grace state and filters for them; on the
//! dashboard, how many are in their grace period and how many can do
//! nothing but set up a factor.

use std::collections::HashMap;

use crate::db::now;
use crate::plugin::{AddonError, BadgeTone, DashboardNotice, HostHandle, UserBadge, UserFilter};
use crate::two_factor::factors;
use crate::two_factor::ADDON_ID;

use super::rule::{grace, Rule, Standing};
use super::store;

/// Filter keys (`/admin/users?filter=two_factor.setup_grace`).
pub const IN_GRACE: &str = "setup_grace";
pub const GRACE_OVER: &str = "setup_grace_over";

pub fn filters() -> Vec<UserFilter> {
    vec![
        UserFilter {
            key: IN_GRACE.into(),
            label: "In the 2FA set-up grace period".into(),
        },
        UserFilter {
            key: GRACE_OVER.into(),
            label: "Must set up 2FA to sign in".into(),
        },
    ]
}

/// The standing of the accounts whose clock started (all of them, or
/// those in `ids`) and that still have no second factor.
async fn standings(
    host: &HostHandle,
    ids: Option<Vec<i64>>,
) -> Result<HashMap<i64, Standing>, AddonError> {
    let starts: Vec<(i64, i64)> = host
        .db()
        .run(move |conn| match ids {
            Some(ids) => Ok(store::starts_of(conn, &ids)?.into_iter().collect()),
            None => store::all(conn),
        })
        .await?;
    if starts.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<i64> = starts.iter().map(|(id, _)| *id).collect();
    let kinds = host
        .db()
        .run(move |conn| factors::kinds_of(conn, &ids))
        .await?;
    let settings = host.addon_settings(ADDON_ID).await?;
    let t = now();
    let mut out = HashMap::new();
    for (id, started) in starts {
        if kinds.get(&id).is_some_and(|k| k.any()) {
            continue;
        }
        // Few accounts wait at once; the role decides the rule.
        let Some(account) = host.find_account(id).await? else {
            continue;
        };
        let g = grace(Rule::for_role(&settings, account.role), started, t);
        if g != Standing::NotRequired {
            out.insert(id, g);
        }
    }
    Ok(out)
}

pub fn badge(g: Standing) -> Option<UserBadge> {
    let label = match g {
        Standing::NotRequired => return None,
        Standing::InGrace { days_left: 1 } => "2FA due in 1 day".to_string(),
        Standing::InGrace { days_left } => format!("2FA due in {days_left} days"),
        Standing::Ended => "2FA set-up only".to_string(),
    };
    Some(UserBadge {
        label,
        tone: BadgeTone::Off,
    })
}

/// The grace badges of the accounts on one page of the Users list.
pub async fn badges(host: &HostHandle, ids: &[i64]) -> Result<HashMap<i64, UserBadge>, AddonError> {
    Ok(standings(host, Some(ids.to_vec()))
        .await?
        .into_iter()
        .filter_map(|(id, g)| badge(g).map(|b| (id, b)))
        .collect())
}

pub async fn filter(host: &HostHandle, key: &str) -> Result<Option<Vec<i64>>, AddonError> {
    let keep: fn(&Standing) -> bool = match key {
        IN_GRACE => |g| matches!(g, Standing::InGrace { .. }),
        GRACE_OVER => |g| *g == Standing::Ended,
        _ => return Ok(None),
    };
    let mut ids: Vec<i64> = standings(host, None)
        .await?
        .into_iter()
        .filter(|(_, g)| keep(g))
        .map(|(id, _)| id)
        .collect();
    ids.sort_unstable();
    Ok(Some(ids))
}

pub async fn dashboard_notices(host: &HostHandle) -> Result<Vec<DashboardNotice>, AddonError> {
    let all = standings(host, None).await?;
    let in_grace = all
        .values()
        .filter(|g| matches!(g, Standing::InGrace { .. }))
        .count();
    let over = all.values().filter(|g| **g == Standing::Ended).count();
    let mut out = Vec::new();
    if in_grace > 0 {
        out.push(DashboardNotice {
            text: format!(
                "{in_grace} account{} must set up two-factor authentication and {} still in the grace period.",
                if in_grace == 1 { "" } else { "s" },
                if in_grace == 1 { "is" } else { "are" }
            ),
            link_label: "Show them".into(),
            link_path: format!("/admin/users?filter={ADDON_ID}.{IN_GRACE}"),
        });
    }
    if over > 0 {
        out.push(DashboardNotice {
            text: format!(
                "{over} account{} can only set up two-factor authentication when signing in: the grace period is over.",
                if over == 1 { "" } else { "s" }
            ),
            link_label: "Show them".into(),
            link_path: format!("/admin/users?filter={ADDON_ID}.{GRACE_OVER}"),
        });
    }
    Ok(out)
}
