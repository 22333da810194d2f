//! The ready router (feature `axum`): deliveries in, health and configuration out as JSON and
//! as a small HTML status page. See the [module](super) docs for the routes.

use std::fmt::Write as _;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};

use super::{
    ADMIN_PREFIX, CallbackHealth, CallbackService, EndpointInfo, RECEIVE_PREFIX, Receipt,
    RejectionReason, SIGNATURE_HEADER,
};
use crate::sync::SyncStore;

impl<S: SyncStore> CallbackService<S> {
    /// Every route: [`receiver_router`](Self::receiver_router) and
    /// [`admin_router`](Self::admin_router) together. The admin routes have no
    /// authentication of their own; prefer the two routers apart in production.
    pub fn router(&self) -> Router {
        self.receiver_router().merge(self.admin_router())
    }

    /// `POST /callbacks/{config}`: where the vendor delivers. 200 once every event is settled
    /// in the store, 400/401 for a rejection, 413 over the body cap, 404 for an unknown or
    /// unconfigured configuration, 503 when the delivery must come again. The answer is JSON
    /// ([`Receipt::to_json`]) and never echoes a secret, a signature or the body.
    pub fn receiver_router(&self) -> Router {
        Router::new()
            .route(&format!("/{RECEIVE_PREFIX}/{{config}}"), post(deliver::<S>))
            .with_state(self.clone())
    }

    /// The admin sub-pages: `GET /admin/callbacks` (HTML index), `GET
    /// /admin/callbacks/{config}` (HTML status page) and `GET /admin/callbacks/{config}/health`
    /// (JSON: `{"configuration": …, "health": …}`). No secret is ever shown; every value is
    /// HTML-escaped, and the pages forbid scripts (`Content-Security-Policy`). Serve them behind
    /// the host's admin authentication.
    pub fn admin_router(&self) -> Router {
        Router::new()
            .route(&format!("/{ADMIN_PREFIX}"), get(index::<S>))
            .route(&format!("/{ADMIN_PREFIX}/{{config}}"), get(page::<S>))
            .route(
                &format!("/{ADMIN_PREFIX}/{{config}}/health"),
                get(health_json::<S>),
            )
            .with_state(self.clone())
    }
}

async fn deliver<S: SyncStore>(
    State(service): State<CallbackService<S>>,
    Path(segment): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let cap = service.max_body_bytes();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| usize::try_from(n).map_or(true, |n| n > cap)) {
        return receipt_response(&service.reject_oversized(&segment).await);
    }
    let bytes = match read_capped(body, cap).await {
        Ok(bytes) => bytes,
        Err(ReadError::TooLarge) => {
            return receipt_response(&service.reject_oversized(&segment).await);
        }
        Err(ReadError::Failed) => {
            return json(
                StatusCode::BAD_REQUEST,
                r#"{"outcome":"rejected","message":"the body could not be read"}"#.to_owned(),
            );
        }
    };
    let signature = parts
        .headers
        .get(SIGNATURE_HEADER)
        .map(HeaderValue::as_bytes);
    let receipt = service.receive(&segment, signature, &bytes).await;
    receipt_response(&receipt)
}

enum ReadError {
    TooLarge,
    Failed,
}

/// Reads at most `cap` bytes; one more is [`ReadError::TooLarge`]. Memory stays within the cap.
async fn read_capped(body: Body, cap: usize) -> Result<Bytes, ReadError> {
    use http_body_util::BodyExt;
    let limited = http_body_util::Limited::new(body, cap);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ReadError::TooLarge)
        }
        Err(_) => Err(ReadError::Failed),
    }
}

fn receipt_response(receipt: &Receipt) -> Response {
    let status =
        StatusCode::from_u16(receipt.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, receipt.to_json())
}

fn json(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

const CSP: HeaderName = HeaderName::from_static("content-security-policy");
const NOSNIFF: HeaderName = HeaderName::from_static("x-content-type-options");

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                CSP,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                ),
            ),
            (NOSNIFF, HeaderValue::from_static("nosniff")),
        ],
        body,
    )
        .into_response()
}

async fn health_json<S: SyncStore>(
    State(service): State<CallbackService<S>>,
    Path(segment): Path<String>,
) -> Response {
    let Some(configuration) = service.configuration(&segment) else {
        return json(
            StatusCode::NOT_FOUND,
            r#"{"error":"no such ISP configuration"}"#.to_owned(),
        );
    };
    match service.health(&segment).await {
        Ok(health) => {
            let value = serde_json::json!({ "configuration": configuration, "health": health });
            json(StatusCode::OK, value.to_string())
        }
        Err(e) => {
            tracing::warn!(error = %e, "callback health could not be read");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "error": "the callback health could not be read", "kind": format!("{:?}", e.kind()) })
                    .to_string(),
            )
        }
    }
}

async fn page<S: SyncStore>(
    State(service): State<CallbackService<S>>,
    Path(segment): Path<String>,
) -> Response {
    let Some(configuration) = service.configuration(&segment) else {
        return html(
            StatusCode::NOT_FOUND,
            document("Callbacks", "<p>No such ISP configuration.</p>"),
        );
    };
    match service.health(&segment).await {
        Ok(health) => html(StatusCode::OK, status_page(&configuration, &health)),
        Err(e) => {
            tracing::warn!(error = %e, "callback health could not be read");
            let body = format!(
                "<h1>Callbacks — {}</h1><p id=\"state\">The callback health could not be read; try again.</p>",
                escape(&configuration.config)
            );
            html(
                StatusCode::SERVICE_UNAVAILABLE,
                document(&format!("Callbacks — {}", configuration.config), &body),
            )
        }
    }
}

async fn index<S: SyncStore>(State(service): State<CallbackService<S>>) -> Response {
    let mut rows = String::new();
    for info in service.configurations() {
        let (state, reason) = match service.health(&info.segment).await {
            Ok(h) => (h.state.label().to_owned(), h.reason),
            Err(_) => (
                "Unknown".to_owned(),
                "the health could not be read".to_owned(),
            ),
        };
        let _ = write!(
            rows,
            "<tr><td><a href=\"/{ADMIN_PREFIX}/{}\">{}</a></td><td>{}</td><td class=\"state\">{}</td><td>{}</td></tr>",
            escape(&info.segment),
            escape(&info.config),
            escape(&info.provider_name),
            escape(&state),
            escape(&reason),
        );
    }
    let body = format!(
        "<h1>Callbacks</h1><table><thead><tr><th>Configuration</th><th>Provider</th><th>Status</th><th>Why</th></tr></thead><tbody>{rows}</tbody></table>"
    );
    html(StatusCode::OK, document("Callbacks", &body))
}

/// HTML-escapes `text` for element content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn time(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "never".to_owned(), |t| t.to_rfc3339())
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}\
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{text-align:left;padding:.25rem .75rem;border-bottom:1px solid #ddd}\
.badge{display:inline-block;padding:.2rem .6rem;border-radius:.3rem;font-weight:600}\
.healthy{background:#d7f5dd;color:#11521f}.degraded{background:#fff1c2;color:#6b4d00}\
.silent{background:#fde0e0;color:#7a1010}.not_configured{background:#e8e8e8;color:#333}";

fn status_page(info: &EndpointInfo, health: &CallbackHealth) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Callbacks — {}</h1>\
         <p>Status: <span id=\"state\" class=\"badge {}\">{}</span></p>\
         <p id=\"reason\">{}</p>",
        escape(&info.config),
        health.state.as_str(),
        escape(health.state.label()),
        escape(&health.reason),
    );
    let _ = write!(
        b,
        "<h2>Deliveries</h2><table>\
         <tr><th>Last delivery</th><td id=\"last-delivery\">{}</td></tr>\
         <tr><th>Last attempt (any outcome)</th><td id=\"last-attempt\">{}</td></tr>\
         <tr><th>Accepted (last {})</th><td id=\"accepted\">{}</td></tr>\
         <tr><th>Duplicate</th><td id=\"duplicate\">{}</td></tr>\
         <tr><th>Rejected</th><td id=\"rejected\">{}</td></tr>\
         <tr><th>Checked at</th><td>{}</td></tr></table>",
        escape(&time(health.last_delivery_at)),
        escape(&time(health.last_attempt_at)),
        escape(&window(health.window_seconds)),
        health.accepted,
        health.duplicate,
        health.rejected,
        escape(&health.checked_at.to_rfc3339()),
    );
    if !health.rejected_by_reason.is_empty() {
        b.push_str("<h2>Rejections by reason</h2><table id=\"rejections\">");
        for (key, n) in &health.rejected_by_reason {
            let label = RejectionReason::from_key(key).map_or(key.as_str(), |r| r.label());
            let _ = write!(b, "<tr><th>{}</th><td>{n}</td></tr>", escape(label));
        }
        b.push_str("</table>");
    }
    if let Some(last) = &health.last_rejection {
        let _ = write!(
            b,
            "<h2>Last rejection</h2><p id=\"last-rejection\">{} — {}</p>",
            escape(&last.at.to_rfc3339()),
            escape(&last.detail),
        );
    }
    b.push_str("<h2>At the vendor</h2>");
    match (&health.vendor, &health.vendor_error) {
        (Some(v), _) => {
            let _ = write!(
                b,
                "<table id=\"vendor\"><tr><th>URL</th><td>{}</td></tr><tr><th>Enabled</th><td>{}</td></tr>\
                 <tr><th>Last attempt</th><td>{}</td></tr><tr><th>Failures in a row</th><td>{}</td></tr></table>",
                escape(v.url.as_str()),
                if v.enabled { "yes" } else { "no" },
                escape(&v.last_attempt.as_ref().map_or_else(
                    || "none".to_owned(),
                    |a| format!(
                        "{} ({})",
                        a.at.to_rfc3339(),
                        a.status.map_or_else(|| "no answer".to_owned(), |s| format!("HTTP {s}"))
                    )
                )),
                v.failures,
            );
        }
        (None, Some(e)) => {
            let _ = write!(
                b,
                "<p id=\"vendor\">The vendor's view could not be read: {}</p>",
                escape(e)
            );
        }
        (None, None) => b.push_str(
            "<p id=\"vendor\">Nothing registered, or the provider does not report it.</p>",
        ),
    }
    let _ = write!(
        b,
        "<h2>Configuration</h2><table id=\"configuration\">\
         <tr><th>Provider</th><td>{}</td></tr><tr><th>Status</th><td>{}</td></tr>\
         <tr><th>Callback settings</th><td>{}</td></tr><tr><th>Receiving path</th><td>{}</td></tr>\
         <tr><th>Callback URL</th><td>{}</td></tr><tr><th>Timestamp tolerance</th><td>{}</td></tr>\
         <tr><th>Secret rotation under way</th><td>{}</td></tr><tr><th>Body cap</th><td>{} bytes</td></tr></table>",
        escape(&info.provider_name),
        match info.status {
            crate::config::Status::Active => "Active",
            crate::config::Status::Inactive => "Inactive",
        },
        if info.configured {
            "configured"
        } else {
            "none"
        },
        escape(&info.path),
        escape(&info.url.as_ref().map_or_else(
            || "not known (no public base set)".to_owned(),
            |u| u.to_string()
        )),
        escape(
            &info
                .tolerance_seconds
                .map_or_else(|| "—".to_owned(), |s| format!("{s} s"))
        ),
        if info.rotation_in_progress {
            "yes"
        } else {
            "no"
        },
        info.max_body_bytes,
    );
    document(&format!("Callbacks — {}", info.config), &b)
}

fn window(seconds: u64) -> String {
    if seconds % 3600 == 0 && seconds > 0 {
        format!("{} h", seconds / 3600)
    } else if seconds % 60 == 0 && seconds > 0 {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} s")
    }
}
