//! Static files compiled into the binary, so `mama` runs from any directory and
//! the Docker image needs nothing beside it. No CDN is ever referenced.
use actix_web::{HttpResponse, get, http::header, web};

use crate::error::AppError;

struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static [u8],
    immutable: bool,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "vendor/pico-2.1.1.min.css",
        mime: "text/css; charset=utf-8",
        body: include_bytes!("../../static/vendor/pico-2.1.1.min.css"),
        immutable: true,
    },
    Asset {
        name: "vendor/htmx-2.0.11.min.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/vendor/htmx-2.0.11.min.js"),
        immutable: true,
    },
    Asset {
        name: "app.css",
        mime: "text/css; charset=utf-8",
        body: include_bytes!("../../static/app.css"),
        immutable: false,
    },
    Asset {
        name: "app.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/app.js"),
        immutable: false,
    },
];

#[get("/static/{file:.*}")]
pub async fn serve(path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == path.as_str())
        .ok_or(AppError::NotFound)?;
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, asset.mime))
        .insert_header((header::CACHE_CONTROL, cache))
        .body(asset.body))
}
