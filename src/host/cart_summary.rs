//! The cart summary (lines and total) of a request's cart, shown by the
//! cart page, by the checkout's login step, and by the second-factor step
//! of a sign-in that started at checkout.

use actix_web::HttpRequest;
use serde::Serialize;

use super::basket::{account_owner, anonymous_owner, lines, CartLine};
use super::catalog::format_price;
use super::session::{self, cookie_of};
use super::templates::pending_for_page;
use super::HostState;
use crate::plugin::Interface;

/// Whose cart this request means: the signed-in account's, or the
/// visitor's session's.
pub async fn owner(state: &HostState, req: &HttpRequest) -> String {
    let current = session::current(state, req).await.unwrap_or_default();
    match &current.account {
        Some(a) => account_owner(a.id),
        None => anonymous_owner(&cookie_of(req).id_hash()),
    }
}

/// The cart's lines and their total, formatted for a page.
#[derive(Serialize)]
pub struct CartSummary {
    pub lines: Vec<CartLine>,
    pub total: String,
}

pub async fn cart_summary(state: &HostState, req: &HttpRequest) -> CartSummary {
    let owner = owner(state, req).await;
    let lines = state
        .db
        .run(move |conn| lines(conn, &owner))
        .await
        .unwrap_or_default();
    let total: i64 = lines.iter().map(|l| l.line_cents).sum();
    CartSummary {
        lines,
        total: format_price(total),
    }
}

pub async fn insert_cart_summary(state: &HostState, req: &HttpRequest, ctx: &mut tera::Context) {
    let summary = cart_summary(state, req).await;
    ctx.insert("total", &summary.total);
    ctx.insert("lines", &summary.lines);
}

/// Where the shopper is in checkout while an addon asks for a second
/// factor: after the login step, before placing the order. The skin shows
/// it (the `checkout` variable) above the addon's page, so the shopper
/// sees they are still checking out and what they are buying.
#[derive(Serialize)]
pub struct CheckoutProgress {
    pub step: u8,
    pub steps: u8,
    pub cart: CartSummary,
}

/// The checkout progress of this request, when its session holds a
/// customer's sign-in that started at checkout (its target is `/checkout`).
pub async fn checkout_progress(state: &HostState, req: &HttpRequest) -> Option<CheckoutProgress> {
    let pending = pending_for_page(state, req).await?;
    let at_checkout = pending.target == "/checkout" || pending.target.starts_with("/checkout?");
    if pending.interface() != Interface::Customer || !at_checkout {
        return None;
    }
    Some(CheckoutProgress {
        step: 2,
        steps: 3,
        cart: cart_summary(state, req).await,
    })
}
