//! The one place that knows what a new container looks like.
//!
//! [`create_body`] is the JSON body of `POST /documents/<tenant>`: a plain `ISummaryTree`
//! (node types as numbers: `1` tree, `2` blob) as a JS `TinyliciousClient` creates it for the
//! schema `{ initialObjects: { presence: SharedMap } }`, so JS clients can load containers
//! created from Rust.
//!
//! The layout was captured from a container created by the JS client 2.112 and replayed with
//! fresh ids (FLUID-PROTOCOL.md 6.1/6.2). `.metadata` is the full JS one, including
//! `documentSchema`, so the first JS writer does not have to send a `schema` op. It couples us to
//! JS runtime internals (summary layout, directory/map headers, `rootDO`), so it lives here only,
//! pinned by a unit test; the JS interop suite checks that JS loads it.
//!
//! Stored tree (the server adds `.protocol`):
//!
//! ```text
//! .aliases                                   [["rootDOId","rootds"]]
//! .channels/rootds/.component                {"pkg":"[\"rootDO\"]",…,"isRootDataStore":true}
//! .channels/rootds/.channels/root/.attributes   directory 0.1
//! .channels/rootds/.channels/root/header     initial-objects-key/presence -> handle /rootds/presmap
//! .channels/rootds/.channels/presmap/.attributes map 0.2
//! .channels/rootds/.channels/presmap/header  {"blobs":[],"content":{}}
//! .electedSummarizer                         {"electionSequenceNumber":0}
//! .idCompressor                              empty compressor
//! .metadata                                  runtime metadata with documentSchema
//! ```

use serde_json::{Value, json};

/// The key of the one initial object (a `SharedMap`) in the container schema.
pub const INITIAL_OBJECT_KEY: &str = "presence";
/// Id of the root data store (any unique string works; JS generates short ids like `A`).
pub const ROOT_DATA_STORE_ID: &str = "rootds";
/// Id of the `SharedMap` channel inside the root data store.
pub const MAP_CHANNEL_ID: &str = "presmap";
/// The runtime version the template imitates.
pub const RUNTIME_VERSION: &str = "2.112.0";

fn blob(content: String) -> Value {
    json!({ "type": 2, "content": content })
}

fn tree(entries: Vec<(&str, Value)>) -> Value {
    let map: serde_json::Map<String, Value> = entries
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    json!({ "type": 1, "tree": map })
}

/// The `.metadata` blob content: the full JS runtime metadata.
pub fn metadata(create_timestamp_ms: u64, telemetry_document_id: &str) -> Value {
    json!({
        "createContainerRuntimeVersion": RUNTIME_VERSION,
        "createContainerTimestamp": create_timestamp_ms,
        "summaryNumber": 1,
        "summaryFormatVersion": 1,
        "gcFeature": 3,
        "sessionExpiryTimeoutMs": 2_592_000_000_u64,
        "sweepEnabled": false,
        "tombstoneTimeoutMs": 3_110_400_000_u64,
        "telemetryDocumentId": telemetry_document_id,
        "message": { "sequenceNumber": -1 },
        "documentSchema": {
            "version": 1,
            "refSeq": 0,
            "info": { "minVersionForCollab": "2.0.0" },
            "runtime": {
                "explicitSchemaControl": true,
                "compressionLz4": true,
                "idCompressorMode": "on",
                "opGroupingEnabled": true
            }
        }
    })
}

/// The app summary tree (without `.protocol`, which the server builds).
pub fn summary_tree(create_timestamp_ms: u64, telemetry_document_id: &str) -> Value {
    let handle_url = format!("/{ROOT_DATA_STORE_ID}/{MAP_CHANNEL_ID}");
    let root_header = json!({
        "blobs": [],
        "content": {
            "ci": { "csn": 0, "ccIds": [] },
            "subdirectories": {
                "initial-objects-key": {
                    "ci": { "csn": 0, "ccIds": ["detached"] },
                    "storage": {
                        INITIAL_OBJECT_KEY: { "type": "Plain", "value": { "type": "__fluid_handle__", "url": handle_url } }
                    }
                }
            }
        }
    });
    let directory_attributes = json!({
        "type": "https://graph.microsoft.com/types/directory",
        "snapshotFormatVersion": "0.1",
        "packageVersion": RUNTIME_VERSION
    });
    let map_attributes = json!({
        "type": "https://graph.microsoft.com/types/map",
        "snapshotFormatVersion": "0.2",
        "packageVersion": RUNTIME_VERSION
    });
    let component =
        json!({ "pkg": "[\"rootDO\"]", "summaryFormatVersion": 2, "isRootDataStore": true });
    let data_store = tree(vec![
        (".component", blob(component.to_string())),
        (
            ".channels",
            tree(vec![
                (
                    "root",
                    tree(vec![
                        (".attributes", blob(directory_attributes.to_string())),
                        ("header", blob(root_header.to_string())),
                    ]),
                ),
                (
                    MAP_CHANNEL_ID,
                    tree(vec![
                        (".attributes", blob(map_attributes.to_string())),
                        (
                            "header",
                            blob(json!({ "blobs": [], "content": {} }).to_string()),
                        ),
                    ]),
                ),
            ]),
        ),
    ]);
    tree(vec![
        (
            ".aliases",
            blob(json!([["rootDOId", ROOT_DATA_STORE_ID]]).to_string()),
        ),
        (".channels", tree(vec![(ROOT_DATA_STORE_ID, data_store)])),
        (
            ".electedSummarizer",
            blob(json!({ "electionSequenceNumber": 0 }).to_string()),
        ),
        // An empty id compressor, serialized as the JS runtime does at creation.
        (
            ".idCompressor",
            blob(json!("AAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").to_string()),
        ),
        (
            ".metadata",
            blob(metadata(create_timestamp_ms, telemetry_document_id).to_string()),
        ),
    ])
}

/// The quorum values the server stores in `.protocol/quorumValues` (the placeholder code
/// proposal that tinylicious-client ignores).
pub fn quorum_values() -> Value {
    json!([["code", {
        "key": "code",
        "value": { "package": "no-dynamic-package", "config": {} },
        "approvalSequenceNumber": 0,
        "commitSequenceNumber": 0,
        "sequenceNumber": 0
    }]])
}

/// The full `POST /documents/<tenant>` body; `id` asks for a given document id (the server
/// generates a UUID when it is `None`).
pub fn create_body(
    id: Option<&str>,
    create_timestamp_ms: u64,
    telemetry_document_id: &str,
) -> Value {
    let mut body = json!({
        "summary": summary_tree(create_timestamp_ms, telemetry_document_id),
        "sequenceNumber": 0,
        "values": quorum_values(),
    });
    if let (Some(id), Some(map)) = (id, body.as_object_mut()) {
        map.insert("id".to_owned(), Value::String(id.to_owned()));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flattens a summary tree into `path => blob content`, failing on unexpected node types.
    fn flatten(node: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
        match node["type"].as_u64() {
            Some(1) => {
                for (name, child) in node["tree"].as_object().unwrap() {
                    let path = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}/{name}")
                    };
                    flatten(child, &path, out);
                }
            }
            Some(2) => out.push((
                prefix.to_owned(),
                node["content"].as_str().unwrap().to_owned(),
            )),
            other => panic!("unexpected node type {other:?} at {prefix}"),
        }
    }

    #[test]
    fn layout_is_pinned() {
        let body = create_body(
            Some("doc-1"),
            1_796_314_386_120,
            "c390cd5a-8a13-487a-8703-9d080b937a75",
        );
        assert_eq!(body["id"], "doc-1");
        assert_eq!(body["sequenceNumber"], 0);
        assert_eq!(
            body["values"][0][1]["value"]["package"],
            "no-dynamic-package"
        );
        let mut blobs = Vec::new();
        flatten(&body["summary"], "", &mut blobs);
        let expected: Vec<(&str, &str)> = vec![
            (".aliases", r#"[["rootDOId","rootds"]]"#),
            (
                ".channels/rootds/.component",
                r#"{"pkg":"[\"rootDO\"]","summaryFormatVersion":2,"isRootDataStore":true}"#,
            ),
            (
                ".channels/rootds/.channels/root/.attributes",
                r#"{"type":"https://graph.microsoft.com/types/directory","snapshotFormatVersion":"0.1","packageVersion":"2.112.0"}"#,
            ),
            (
                ".channels/rootds/.channels/root/header",
                r#"{"blobs":[],"content":{"ci":{"csn":0,"ccIds":[]},"subdirectories":{"initial-objects-key":{"ci":{"csn":0,"ccIds":["detached"]},"storage":{"presence":{"type":"Plain","value":{"type":"__fluid_handle__","url":"/rootds/presmap"}}}}}}}"#,
            ),
            (
                ".channels/rootds/.channels/presmap/.attributes",
                r#"{"type":"https://graph.microsoft.com/types/map","snapshotFormatVersion":"0.2","packageVersion":"2.112.0"}"#,
            ),
            (
                ".channels/rootds/.channels/presmap/header",
                r#"{"blobs":[],"content":{}}"#,
            ),
            (".electedSummarizer", r#"{"electionSequenceNumber":0}"#),
            (
                ".idCompressor",
                r#""AAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=""#,
            ),
            (
                ".metadata",
                r#"{"createContainerRuntimeVersion":"2.112.0","createContainerTimestamp":1796314386120,"summaryNumber":1,"summaryFormatVersion":1,"gcFeature":3,"sessionExpiryTimeoutMs":2592000000,"sweepEnabled":false,"tombstoneTimeoutMs":3110400000,"telemetryDocumentId":"c390cd5a-8a13-487a-8703-9d080b937a75","message":{"sequenceNumber":-1},"documentSchema":{"version":1,"refSeq":0,"info":{"minVersionForCollab":"2.0.0"},"runtime":{"explicitSchemaControl":true,"compressionLz4":true,"idCompressorMode":"on","opGroupingEnabled":true}}}"#,
            ),
        ];
        let actual: Vec<(&str, &str)> = blobs
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn id_is_omitted_when_the_server_should_choose() {
        let body = create_body(None, 0, "t");
        assert!(body.get("id").is_none());
    }
}
