//! The cart summary (lines and total) of a request's cart, shown by the
//! cart page and by the checkout's login step.

use actix_web::HttpRequest;

use super::basket::{account_owner, anonymous_owner, lines};
use super::catalog::format_price;
use super::session::{self, cookie_of};
use super::HostState;

/// Whose cart this request means: the signed-in account's, or the
/// visitor's session's.
pub async fn owner(state: &HostState, req: &HttpRequest) -> String {
    let current = session::current(state, req).await.unwrap_or_default();
    match &current.account {
        Some(a) => account_owner(a.id),
        None => anonymous_owner(&cookie_of(req).id_hash()),
    }
}

pub async fn insert_cart_summary(state: &HostState, req: &HttpRequest, ctx: &mut tera::Context) {
    let owner = owner(state, req).await;
    let lines = state
        .db
        .run(move |conn| lines(conn, &owner))
        .await
        .unwrap_or_default();
    let total: i64 = lines.iter().map(|l| l.line_cents).sum();
    ctx.insert("total", &format_price(total));
    ctx.insert("lines", &lines);
}
