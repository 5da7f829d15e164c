//! Cart, checkout (with its login step for logged-out shoppers), orders.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::Serialize;

use super::basket::{account_owner, lines, MAX_QUANTITY};
use super::cart_summary::{insert_cart_summary, owner};
use super::catalog::format_price;
use super::session;
use super::{bad_form, redirect, HostState};
use crate::db::now;
use crate::db::schema::{cart_items, order_items, orders, products};
use crate::plugin::{FormValues, Interface};

pub async fn view(state: web::Data<HostState>, req: HttpRequest) -> HttpResponse {
    let mut ctx = tera::Context::new();
    insert_cart_summary(&state, &req, &mut ctx).await;
    state
        .render_page(&req, StatusCode::OK, "host/cart.html", ctx)
        .await
}

fn parse_quantity(values: &FormValues) -> Option<i32> {
    let q = values.get("quantity").map(str::trim).unwrap_or("1");
    q.parse::<i32>()
        .ok()
        .filter(|q| (0..=MAX_QUANTITY).contains(q))
}

pub async fn add(state: web::Data<HostState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Ok(values) = FormValues::parse(&body) else {
        return bad_form(&state, &req, "The cart form could not be read.").await;
    };
    let (Some(product_id), Some(quantity)) = (
        values.text("product_id").parse::<i64>().ok(),
        parse_quantity(&values).filter(|q| *q > 0),
    ) else {
        return bad_form(
            &state,
            &req,
            "Choose a product and a quantity from 1 to 99.",
        )
        .await;
    };
    let owner = owner(&state, &req).await;
    let result = state
        .db
        .transaction(move |conn| {
            let exists = products::table
                .find(product_id)
                .select(products::id)
                .first::<i64>(conn)
                .optional()?;
            if exists.is_none() {
                return Ok(false);
            }
            let existing: Option<(i64, i32)> = cart_items::table
                .filter(cart_items::owner.eq(&owner))
                .filter(cart_items::product_id.eq(product_id))
                .select((cart_items::id, cart_items::quantity))
                .first(conn)
                .optional()?;
            match existing {
                Some((id, q)) => {
                    diesel::update(cart_items::table.find(id))
                        .set(cart_items::quantity.eq((q + quantity).min(MAX_QUANTITY)))
                        .execute(conn)?;
                }
                None => {
                    diesel::insert_into(cart_items::table)
                        .values((
                            cart_items::owner.eq(&owner),
                            cart_items::product_id.eq(product_id),
                            cart_items::quantity.eq(quantity),
                        ))
                        .execute(conn)?;
                }
            }
            Ok(true)
        })
        .await;
    match result {
        Ok(true) => redirect("/cart"),
        Ok(false) => HttpResponse::NotFound().finish(),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// Sets a line's quantity; 0 removes it.
pub async fn update(
    state: web::Data<HostState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Ok(values) = FormValues::parse(&body) else {
        return bad_form(&state, &req, "The cart form could not be read.").await;
    };
    let (Some(product_id), Some(quantity)) = (
        values.text("product_id").parse::<i64>().ok(),
        parse_quantity(&values),
    ) else {
        return bad_form(&state, &req, "Choose a quantity from 0 to 99.").await;
    };
    let owner = owner(&state, &req).await;
    let result = state
        .db
        .transaction(move |conn| {
            let target = cart_items::table
                .filter(cart_items::owner.eq(&owner))
                .filter(cart_items::product_id.eq(product_id));
            if quantity == 0 {
                diesel::delete(target).execute(conn)?;
            } else {
                diesel::update(target)
                    .set(cart_items::quantity.eq(quantity))
                    .execute(conn)?;
            }
            Ok(())
        })
        .await;
    match result {
        Ok(()) => redirect("/cart"),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// `GET /checkout`: a logged-out shopper gets the login step (log in or
/// register), then comes back here.
pub async fn checkout(state: web::Data<HostState>, req: HttpRequest) -> HttpResponse {
    let current = session::current(&state, &req).await.unwrap_or_default();
    if current.account.is_none() {
        if let Err(res) = state.require(&req, Interface::Customer).await {
            // A pending login goes back to its challenge; others see the login step.
            if current.pending_login_id().is_some() && res.status() == StatusCode::SEE_OTHER {
                let location = res
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !location.starts_with("/login") {
                    return res;
                }
            }
        }
        return super::login::login_page(
            &state,
            &req,
            super::login::LoginForm::Checkout,
            Some("/checkout"),
            None,
            "",
            StatusCode::OK,
        )
        .await;
    }
    let mut ctx = tera::Context::new();
    insert_cart_summary(&state, &req, &mut ctx).await;
    state
        .render_page(&req, StatusCode::OK, "host/checkout.html", ctx)
        .await
}

pub async fn place_order(state: web::Data<HostState>, req: HttpRequest) -> HttpResponse {
    let account = match state.require(&req, Interface::Customer).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let owner = account_owner(account.id);
    let account_id = account.id;
    let placed = state
        .db
        .transaction(move |conn| {
            let lines = lines(conn, &owner)?;
            if lines.is_empty() {
                return Ok(None);
            }
            let total: i64 = lines.iter().map(|l| l.line_cents).sum();
            let t = now();
            let order_id: i64 = diesel::insert_into(orders::table)
                .values((
                    orders::account_id.eq(account_id),
                    orders::total_cents.eq(total),
                    orders::created_at.eq(t),
                ))
                .returning(orders::id)
                .get_result(conn)?;
            for l in &lines {
                diesel::insert_into(order_items::table)
                    .values((
                        order_items::order_id.eq(order_id),
                        order_items::product_id.eq(l.product_id),
                        order_items::name.eq(&l.name),
                        order_items::price_cents.eq(l.price_cents),
                        order_items::quantity.eq(l.quantity),
                    ))
                    .execute(conn)?;
            }
            diesel::delete(cart_items::table.filter(cart_items::owner.eq(&owner))).execute(conn)?;
            Ok(Some(order_id))
        })
        .await;
    match placed {
        Ok(Some(id)) => redirect(&format!("/orders/{id}")),
        Ok(None) => redirect("/cart"),
        Err(e) => {
            tracing::error!(error = %e, "placing order failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

#[derive(Serialize)]
struct OrderLine {
    name: String,
    quantity: i32,
    price: String,
}

pub async fn order_confirmation(
    state: web::Data<HostState>,
    req: HttpRequest,
    id: web::Path<i64>,
) -> HttpResponse {
    let account = match state.require(&req, Interface::Customer).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let order_id = id.into_inner();
    let account_id = account.id;
    let found = state
        .db
        .run(move |conn| {
            let order: Option<(i64, i64)> = orders::table
                .find(order_id)
                .filter(orders::account_id.eq(account_id))
                .select((orders::id, orders::total_cents))
                .first(conn)
                .optional()?;
            let Some(order) = order else { return Ok(None) };
            let items: Vec<(String, i32, i64)> = order_items::table
                .filter(order_items::order_id.eq(order_id))
                .select((
                    order_items::name,
                    order_items::quantity,
                    order_items::price_cents,
                ))
                .load(conn)?;
            Ok(Some((order, items)))
        })
        .await;
    match found {
        Ok(Some(((id, total), items))) => {
            let mut ctx = tera::Context::new();
            ctx.insert("order_id", &id);
            ctx.insert("total", &format_price(total));
            let items: Vec<OrderLine> = items
                .into_iter()
                .map(|(name, quantity, price)| OrderLine {
                    name,
                    quantity,
                    price: format_price(price),
                })
                .collect();
            ctx.insert("items", &items);
            state
                .render_page(&req, StatusCode::OK, "host/order.html", ctx)
                .await
        }
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}
