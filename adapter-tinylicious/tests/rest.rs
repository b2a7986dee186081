//! REST calls against a fake HTTP server on 127.0.0.1: size limits and error reporting.

mod common;

use std::time::{Duration, Instant};

use audience_tinylicious::{TinyliciousConfig, TinyliciousError, TinyliciousService};
use common::{Body, Reply};

fn service(url: &str, request_timeout: Duration) -> TinyliciousService {
    TinyliciousService::new(
        TinyliciousConfig::from_url(url)
            .unwrap()
            .with_request_timeout(request_timeout),
    )
    .unwrap()
}

/// A body that never ends, at about 64 MB/s: a client reading it whole would hit the request
/// timeout (and hundreds of MB) instead of the size cap.
fn endless(status: u16) -> Reply {
    Reply {
        status,
        body: Body::Endless {
            chunk: 64 << 10,
            pause: Duration::from_millis(1),
        },
    }
}

#[tokio::test]
async fn an_endless_body_stops_at_the_cap() {
    let (url, _peers, _log) = common::fake_service(|_| endless(200)).await;
    let started = Instant::now();
    let err = service(&url, Duration::from_secs(4))
        .container_exists("doc")
        .await
        .unwrap_err();
    match err {
        TinyliciousError::BadResponse { url, detail } => {
            assert!(url.ends_with("/documents/tinylicious/doc"), "{url}");
            assert_eq!(detail, "response body larger than 1 MiB");
        }
        other => panic!("expected BadResponse, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the read must stop at the cap, not at the request timeout"
    );
}

#[tokio::test]
async fn a_valid_but_oversized_body_is_refused() {
    // A JSON string of 2 MiB: valid, so only the cap can refuse it.
    let big = format!("\"{}\"", "x".repeat(2 << 20));
    let (url, _peers, _log) = common::fake_service(move |_| Reply::json(&big)).await;
    let err = service(&url, Duration::from_secs(30))
        .container_exists("doc")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TinyliciousError::BadResponse { detail, .. } if detail == "response body larger than 1 MiB"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_endless_error_body_still_reports_the_status() {
    let (url, _peers, _log) = common::fake_service(|_| endless(500)).await;
    let started = Instant::now();
    let err = service(&url, Duration::from_secs(4))
        .create_container()
        .await
        .unwrap_err();
    match err {
        TinyliciousError::Http {
            status, message, ..
        } => {
            assert_eq!(status, 500);
            // Clipped to 500 characters plus the ellipsis.
            assert_eq!(message.chars().count(), 501);
            assert!(message.starts_with("xxxx"), "{message}");
        }
        other => panic!("expected HTTP 500, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn a_404_is_a_wrong_url_not_an_unknown_container() {
    let (url, _peers, log) =
        common::fake_service(|_| Reply::status(404, "Cannot GET /documents")).await;
    let service = service(&url, Duration::from_secs(30));
    for err in [
        service.container_exists("doc").await.unwrap_err(),
        service.require_container("doc").await.unwrap_err(),
    ] {
        match &err {
            TinyliciousError::Http {
                status: 404,
                url,
                message,
            } => {
                assert!(url.ends_with("/documents/tinylicious/doc"), "{url}");
                assert!(message.contains("is this a Fluid service?"), "{message}");
            }
            other => panic!("expected HTTP 404, got {other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("HTTP 404 from {url}/documents/tinylicious/doc: ")),
            "{text}"
        );
    }
    match service.create_container().await.unwrap_err() {
        TinyliciousError::Http { status, url, .. } => {
            assert_eq!(status, 404);
            assert!(url.ends_with("/documents/tinylicious"), "{url}");
        }
        other => panic!("expected HTTP 404, got {other:?}"),
    }
    assert_eq!(log.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn only_null_means_an_unknown_container() {
    let (url, _peers, log) = common::fake_service(|line| {
        if line.starts_with("GET /documents/tinylicious/known ") {
            Reply::json(common::DOCUMENT_RECORD)
        } else {
            Reply::json("null")
        }
    })
    .await;
    let service = service(&url, Duration::from_secs(30));
    assert!(service.container_exists("known").await.unwrap());
    assert!(!service.container_exists("gone").await.unwrap());
    match service.require_container("gone").await.unwrap_err() {
        TinyliciousError::UnknownContainer(id) => assert_eq!(id, "gone"),
        other => panic!("expected UnknownContainer, got {other:?}"),
    }
    assert_eq!(
        log.lock().unwrap()[..2],
        [
            "GET /documents/tinylicious/known HTTP/1.1",
            "GET /documents/tinylicious/gone HTTP/1.1"
        ]
    );
}
