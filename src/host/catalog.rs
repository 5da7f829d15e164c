//! The catalog: home page with products, product pages, demo data, and the
//! health check.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::Serialize;

use super::HostState;
use crate::db::schema::products;
use crate::db::{now, DbConn, DbError};

#[derive(Clone, Debug, Queryable, Selectable, Serialize)]
#[diesel(table_name = products)]
pub struct Product {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub created_at: i64,
}

impl Product {
    pub fn price(&self) -> String {
        format_price(self.price_cents)
    }
}

pub fn format_price(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

#[derive(Serialize)]
struct ProductView<'a> {
    slug: &'a str,
    name: &'a str,
    description: &'a str,
    price: String,
    id: i64,
}

fn view(p: &Product) -> ProductView<'_> {
    ProductView {
        slug: &p.slug,
        name: &p.name,
        description: &p.description,
        price: p.price(),
        id: p.id,
    }
}

const DEMO: &[(&str, &str, &str, i64)] = &[
    (
        "espresso-beans",
        "Espresso beans, 1 kg",
        "Dark roast from a small Italian roastery.",
        2450,
    ),
    (
        "pour-over-kettle",
        "Pour-over kettle",
        "Gooseneck kettle, 1 litre, stainless steel.",
        3900,
    ),
    (
        "ceramic-mug",
        "Ceramic mug",
        "Hand-glazed, 350 ml, dishwasher safe.",
        1200,
    ),
    (
        "hand-grinder",
        "Hand grinder",
        "Conical burrs, 40 settings, fits in a backpack.",
        6500,
    ),
    (
        "paper-filters",
        "Paper filters (100)",
        "Unbleached filters for cone drippers.",
        650,
    ),
    (
        "barista-apron",
        "Barista apron",
        "Waxed canvas with leather straps.",
        4200,
    ),
];

/// Seeds demo products into an empty catalog.
pub fn seed_demo_products(conn: &mut DbConn) -> Result<usize, DbError> {
    let existing: i64 = products::table.count().get_result(conn)?;
    if existing > 0 {
        return Ok(0);
    }
    let t = now();
    for (slug, name, description, price) in DEMO {
        diesel::insert_into(products::table)
            .values((
                products::slug.eq(slug),
                products::name.eq(name),
                products::description.eq(description),
                products::price_cents.eq(price),
                products::created_at.eq(t),
            ))
            .execute(conn)?;
    }
    Ok(DEMO.len())
}

pub async fn home(state: web::Data<HostState>, req: HttpRequest) -> HttpResponse {
    let list = state
        .db
        .run(|conn| {
            Ok(crate::on_backend!(conn, |c| products::table
                .order(products::id.asc())
                .limit(100)
                .select(Product::as_select())
                .load(c))?)
        })
        .await;
    let Ok(list) = list else {
        return HttpResponse::InternalServerError().finish();
    };
    let mut ctx = tera::Context::new();
    ctx.insert("products", &list.iter().map(view).collect::<Vec<_>>());
    state
        .render_page(&req, StatusCode::OK, "host/home.html", ctx)
        .await
}

pub async fn product(
    state: web::Data<HostState>,
    req: HttpRequest,
    slug: web::Path<String>,
) -> HttpResponse {
    let slug = slug.into_inner();
    let found = state
        .db
        .run(move |conn| {
            Ok(crate::on_backend!(conn, |c| products::table
                .filter(products::slug.eq(slug))
                .select(Product::as_select())
                .first(c)
                .optional())?)
        })
        .await;
    match found {
        Ok(Some(p)) => {
            let mut ctx = tera::Context::new();
            ctx.insert("product", &view(&p));
            state
                .render_page(&req, StatusCode::OK, "host/product.html", ctx)
                .await
        }
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// `GET /healthz`: 200 when the database answers, 503 when it does not.
pub async fn healthz(state: web::Data<HostState>) -> HttpResponse {
    let backend = match state.db.backend() {
        crate::db::Backend::Sqlite => "sqlite",
        crate::db::Backend::Postgres => "postgres",
    };
    let ok = state
        .db
        .run(|conn| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok(())
        })
        .await
        .is_ok();
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "error" },
        "database": { "reachable": ok, "backend": backend },
    });
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
