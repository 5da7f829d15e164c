//! The cart's data: its lines in the database, whose they are (a
//! visitor's session or an account) and the merge at sign-in. Sessions,
//! the cart's pages and the cart summary use it; it uses none of them.

use diesel::prelude::*;
use serde::Serialize;

use super::catalog::{format_price, Product};
use crate::db::schema::{cart_items, products};
use crate::db::{DbConn, DbError};

pub const MAX_QUANTITY: i32 = 99;

#[derive(Serialize)]
pub struct CartLine {
    pub product_id: i64,
    pub slug: String,
    pub name: String,
    pub quantity: i32,
    pub price: String,
    pub line_total: String,
    #[serde(skip)]
    pub line_cents: i64,
    #[serde(skip)]
    pub price_cents: i64,
}

pub fn lines(conn: &mut DbConn, owner: &str) -> Result<Vec<CartLine>, DbError> {
    let rows: Vec<(i32, Product)> = cart_items::table
        .inner_join(products::table)
        .filter(cart_items::owner.eq(owner))
        .order(cart_items::id.asc())
        .select((cart_items::quantity, Product::as_select()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(quantity, p)| {
            let line_cents = p.price_cents * i64::from(quantity);
            CartLine {
                product_id: p.id,
                slug: p.slug,
                name: p.name,
                quantity,
                price: format_price(p.price_cents),
                line_total: format_price(line_cents),
                line_cents,
                price_cents: p.price_cents,
            }
        })
        .collect())
}

pub fn anonymous_owner(id_hash: &str) -> String {
    format!("s:{id_hash}")
}

pub fn account_owner(account_id: i64) -> String {
    format!("a:{account_id}")
}

pub fn merge(conn: &mut DbConn, from: &str, to: &str) -> Result<(), DbError> {
    crate::on_backend!(conn, |conn| {
        let items: Vec<(i64, i64, i32)> = cart_items::table
            .filter(cart_items::owner.eq(from))
            .select((cart_items::id, cart_items::product_id, cart_items::quantity))
            .load(conn)?;
        for (id, product_id, quantity) in items {
            let existing: Option<(i64, i32)> = cart_items::table
                .filter(cart_items::owner.eq(to))
                .filter(cart_items::product_id.eq(product_id))
                .select((cart_items::id, cart_items::quantity))
                .first(conn)
                .optional()?;
            match existing {
                Some((existing_id, q)) => {
                    diesel::update(cart_items::table.find(existing_id))
                        .set(cart_items::quantity.eq((q + quantity).min(MAX_QUANTITY)))
                        .execute(conn)?;
                    diesel::delete(cart_items::table.find(id)).execute(conn)?;
                }
                None => {
                    diesel::update(cart_items::table.find(id))
                        .set(cart_items::owner.eq(to))
                        .execute(conn)?;
                }
            }
        }
        Ok(())
    })
}
