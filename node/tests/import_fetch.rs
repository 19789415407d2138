//! `fetch_url` against a tiny HTTP server on 127.0.0.1 (nothing outside is contacted).
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use vivim_node::import::{Format, ImportError, Item, Limits, fetch_url, parse_reader};

const PAGE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/import/sharegpt.json"
);

async fn serve() -> String {
    let app = Router::new()
        .route("/ok", get(|| async { std::fs::read(PAGE).unwrap() }))
        .route("/big", get(|| async { vec![b'x'; 300_000] }))
        .route(
            "/stream",
            get(|| async {
                // Chunked, no Content-Length: the limit must be enforced while reading.
                let chunks = (0..100)
                    .map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'y'; 10_000])));
                Body::from_stream(futures::stream::iter(chunks))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn fetch_happy_path_and_parse() {
    let base = serve().await;
    let body = fetch_url(&format!("{base}/ok"), 1 << 20).await.unwrap();
    assert_eq!(body, std::fs::read(PAGE).unwrap());
    let mut n = 0;
    let f = parse_reader(&body[..], Format::Auto, &Limits::default(), &mut |i| {
        if matches!(i, Item::Conversation(_)) {
            n += 1;
        }
        Ok(())
    })
    .unwrap();
    assert_eq!((f, n), (Format::ShareGpt, 2));
}

#[tokio::test]
async fn fetch_over_the_limit() {
    let base = serve().await;
    match fetch_url(&format!("{base}/big"), 100_000).await {
        Err(ImportError::TooLarge { size, max, what }) => {
            assert_eq!(max, 100_000);
            assert_eq!(size, 300_000, "known from Content-Length");
            assert!(what.contains("/big"));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    match fetch_url(&format!("{base}/stream"), 55_000).await {
        Err(ImportError::TooLarge { size, max, .. }) => {
            assert_eq!(max, 55_000);
            assert!(size > 55_000 && size < 1_000_000, "stopped early at {size}");
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Exactly at the limit is fine.
    assert_eq!(
        fetch_url(&format!("{base}/big"), 300_000)
            .await
            .unwrap()
            .len(),
        300_000
    );
}

#[tokio::test]
async fn fetch_errors_are_clear() {
    let base = serve().await;
    let e = fetch_url(&format!("{base}/missing"), 1000)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ImportError::Fetch { url, .. } if url.ends_with("/missing")),
        "{e:?}"
    );
    assert!(e.to_string().contains("404"), "{e}");

    let e = fetch_url("ftp://127.0.0.1/x", 1000).await.unwrap_err();
    assert!(e.to_string().contains("unsupported scheme"), "{e}");
    let e = fetch_url("not a url", 1000).await.unwrap_err();
    assert!(e.to_string().contains("not a valid URL"), "{e}");
    assert!(matches!(e, ImportError::InvalidUrl { .. }), "{e:?}");
    let e = fetch_url("http://", 1000).await.unwrap_err();
    assert!(matches!(e, ImportError::InvalidUrl { .. }), "{e:?}");

    // A port nobody listens on (bound then dropped).
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let e = fetch_url(&format!("http://{addr}/"), 1000)
        .await
        .unwrap_err();
    assert!(matches!(e, ImportError::Fetch { .. }), "{e:?}");
}
