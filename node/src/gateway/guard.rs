//! What stands between a request and the routes: the `Host` check (DNS rebinding), the token
//! (header everywhere, `?token=` only on WebSocket upgrades), the WebSocket `Origin` check, and
//! the two rate limits (per client address before the token is known, the configured bucket
//! after).

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex},
    time::Instant,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{ApiError, Gateway};
use crate::config::GatewayConfig;

/// The host part of a `Host` header value (`name`, `name:port`, `[v6]:port`), lowercased.
fn host_name(value: &str) -> Option<String> {
    let v = value.trim();
    let name = if let Some(rest) = v.strip_prefix('[') {
        rest.split_once(']')?.0
    } else {
        match v.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => v,
        }
    };
    (!name.is_empty()).then(|| name.trim_end_matches('.').to_ascii_lowercase())
}

/// Whether a request naming `host` is for this gateway.
fn host_allowed(host: &str, allowed: &[String]) -> bool {
    if allowed.iter().any(|a| a == host) || host.ends_with(".localhost") {
        return true;
    }
    // Any loopback address literal: no name to rebind.
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses requests whose `Host` names something else than this gateway (421). A request
/// without `Host` (HTTP/1.0, in-process) is not from a browser and passes.
pub(crate) async fn check_host(
    State(gw): State<Arc<Gateway>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(value) = req.headers().get(header::HOST) {
        let name = value.to_str().ok().and_then(host_name);
        if !name.is_some_and(|n| host_allowed(&n, &gw.guard.hosts)) {
            return ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                "misdirected_request",
                "this gateway does not answer that Host; add it to [gateway] allowed_hosts in \
                 vivim.toml if it is yours",
            )
            .into_response();
        }
    }
    next.run(req).await
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Whether a WebSocket upgrade's `Origin` may open it: none (not a browser), the gateway's own
/// origin (same host and port as `Host`), or one of `[gateway] cors_origins`.
fn origin_allowed(headers: &HeaderMap, cors: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if cors.iter().any(|o| o.trim_end_matches('/') == origin) {
        return true;
    }
    let own = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((rest, own), (Some(r), Some(h)) if r.eq_ignore_ascii_case(h))
}

fn client_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Checks the bearer token (and a WebSocket's origin). Requests without the right token are
/// limited per client address (429 past the burst); a request with it always passes, so a page
/// that spams the gateway from the user's own browser cannot lock the user out.
pub(crate) async fn auth(State(gw): State<Arc<Gateway>>, req: Request, next: Next) -> Response {
    let ip = client_ip(&req);
    let headers = req.headers();
    let upgrade = is_websocket_upgrade(headers);
    let header_token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Browsers cannot set headers on a WebSocket, so only an upgrade may carry the token in its
    // address; anywhere else a token in a URL ends up in histories and logs.
    let query_token = upgrade
        .then(|| {
            req.uri()
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")))
        })
        .flatten();
    let ok = header_token
        .or(query_token)
        .is_some_and(|t| constant_time_eq(t.trim().as_bytes(), gw.token.as_bytes()));
    if !ok {
        if !gw.guard.failed(ip) {
            return too_many("too many requests without the right token; wait a moment");
        }
        let message = if !upgrade && header_token.is_none() && query_has_token(&req) {
            "missing bearer token: `?token=` is only read on WebSocket upgrades; send \
             `Authorization: Bearer <token>` (see `vivim token`)"
        } else {
            "missing or wrong bearer token (see `vivim token`)"
        };
        return ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    }
    if upgrade && !origin_allowed(req.headers(), &gw.node.config.gateway.cors_origins) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "this page's origin may not open the gateway's WebSockets; add it to [gateway] \
             cors_origins in vivim.toml if it is yours",
        )
        .into_response();
    }
    next.run(req).await
}

fn query_has_token(req: &Request) -> bool {
    req.uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("token=")))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn too_many(message: &'static str) -> Response {
    let mut res =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    res
}

/// The configured limit, for requests that passed the token check.
pub(crate) async fn rate_limit(
    State(gw): State<Arc<Gateway>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(limiter) = &gw.guard.limiter
        && !limiter.lock().map(|mut b| b.take()).unwrap_or(true)
    {
        return too_many("too many requests; slow down (gateway.rate_limit_per_sec in vivim.toml)");
    }
    next.run(req).await
}

/// A token bucket: `rate` requests a second, bursts up to `burst`.
pub(crate) struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub(crate) fn new(rate: f64, burst: f64) -> Self {
        Bucket {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
    }

    /// Takes one request's token; false when the bucket is empty.
    fn take(&mut self) -> bool {
        self.refill();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Failed token attempts a client address may make in a burst, and per second after it.
const FAILURE_BURST: f64 = 20.0;
const FAILURES_PER_SEC: f64 = 2.0;
/// Client addresses remembered; past it the table is cleared (an attacker cycling addresses on
/// loopback gains a burst, not memory).
const FAILURE_TABLE: usize = 4096;

/// The gateway's guard state.
pub(crate) struct Guard {
    hosts: Vec<String>,
    limiter: Option<Mutex<Bucket>>,
    failures: Mutex<HashMap<IpAddr, Bucket>>,
}

impl Guard {
    pub(crate) fn new(cfg: &GatewayConfig) -> Self {
        Guard {
            hosts: cfg.allowed_hosts(),
            limiter: (cfg.rate_limit_per_sec > 0).then(|| {
                let r = f64::from(cfg.rate_limit_per_sec);
                Mutex::new(Bucket::new(r, r))
            }),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a failed attempt from `ip`; false once its burst is spent.
    fn failed(&self, ip: IpAddr) -> bool {
        let Ok(mut f) = self.failures.lock() else {
            return true;
        };
        if f.len() >= FAILURE_TABLE && !f.contains_key(&ip) {
            f.clear();
        }
        f.entry(ip)
            .or_insert_with(|| Bucket::new(FAILURES_PER_SEC, FAILURE_BURST))
            .take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert_eq!(host_name("127.0.0.1:7777").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_name("[::1]:7777").as_deref(), Some("::1"));
        assert_eq!(host_name("LocalHost").as_deref(), Some("localhost"));
        assert_eq!(host_name("localhost.:80").as_deref(), Some("localhost"));
        assert_eq!(host_name("[::1"), None);
        assert_eq!(host_name(""), None);
        let allowed = GatewayConfig::default().allowed_hosts();
        for ok in [
            "localhost",
            "127.0.0.1",
            "127.4.5.6",
            "::1",
            "app.localhost",
        ] {
            assert!(host_allowed(ok, &allowed), "{ok}");
        }
        for bad in [
            "attacker.example",
            "localhost.attacker.example",
            "10.0.0.1",
            "0.0.0.0",
        ] {
            assert!(!host_allowed(bad, &allowed), "{bad}");
        }
    }

    #[test]
    fn websocket_origins() {
        let mut h = HeaderMap::new();
        assert!(origin_allowed(&h, &[]));
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:7777"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:7777"),
        );
        assert!(origin_allowed(&h, &[]));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!origin_allowed(&h, &[]));
        assert!(origin_allowed(&h, &["http://evil.example/".into()]));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!origin_allowed(&h, &[]));
    }

    #[test]
    fn failures_are_limited_per_address() {
        let g = Guard::new(&GatewayConfig::default());
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        for _ in 0..FAILURE_BURST as usize {
            assert!(g.failed(a));
        }
        assert!(!g.failed(a));
        assert!(g.failed(b));
    }
}
