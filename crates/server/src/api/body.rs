//! Request bodies in the binary encodings a Kubernetes API server also reads, turned into the
//! JSON the rest of the API handles: Kubernetes protobuf (what kubectl's generators send for
//! built-in kinds, decoded by [`weir_apimachinery::protobuf`]). CBOR is refused.

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use weir_apimachinery::protobuf::{self, ProtobufError};

/// A body the API cannot read, answered as a Kubernetes `Status`.
#[derive(Debug)]
pub(crate) struct Refusal {
    code: StatusCode,
    reason: &'static str,
    message: String,
}

impl Refusal {
    /// 415, as an API server answers a body in a format it cannot read (custom resources are
    /// never protobuf).
    fn unsupported_media_type(why: &str) -> Refusal {
        Refusal {
            code: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            reason: "UnsupportedMediaType",
            message: format!(
                "the body of the request was in an unknown format - accepted media types \
                 include: application/json, application/yaml, {} ({why})",
                protobuf::MEDIA_TYPE
            ),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "details": {}, "code": self.code.as_u16(),
        });
        (self.code, Json(status)).into_response()
    }
}

/// The JSON form of a write's body: `Ok(None)` when it already is JSON (or YAML), the decoded
/// object when it is protobuf; 415 for an encoding or kind that has no protobuf form (custom
/// resources, CBOR), 400 for a body that does not decode.
pub(crate) fn as_json(headers: &HeaderMap, body: &Bytes) -> Result<Option<Bytes>, Refusal> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let media_type = content_type.and_then(|c| c.split(';').next()).unwrap_or("").trim();
    match media_type {
        protobuf::MEDIA_TYPE => match protobuf::decode(body) {
            // A JSON value always serializes.
            Ok(object) => Ok(Some(Bytes::from(object.to_string()))),
            Err(
                e @ (ProtobufError::UnknownKind { .. } | ProtobufError::UnsupportedEncoding { .. }),
            ) => Err(Refusal::unsupported_media_type(&e.to_string())),
            Err(e) => Err(Refusal {
                code: StatusCode::BAD_REQUEST,
                reason: "BadRequest",
                message: e.to_string(),
            }),
        },
        "application/cbor" => Err(Refusal::unsupported_media_type("CBOR bodies are not supported")),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_content_type(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        headers
    }

    /// A Namespace named `team-a` in a `runtime.Unknown` envelope (`typeMeta`, `raw`).
    const NAMESPACE: &[u8] =
        b"k8s\0\x0a\x0f\x0a\x02v1\x12\x09Namespace\x12\x0a\x0a\x08\x0a\x06team-a";

    #[test]
    fn bodies_are_read_by_their_content_type() {
        let json = Bytes::from_static(br#"{"kind":"Namespace"}"#);
        assert_eq!(as_json(&with_content_type("application/json"), &json).unwrap(), None);
        assert_eq!(as_json(&HeaderMap::new(), &json).unwrap(), None);

        let decoded = as_json(
            &with_content_type("application/vnd.kubernetes.protobuf; charset=utf-8"),
            &Bytes::from_static(NAMESPACE),
        )
        .unwrap()
        .unwrap();
        let decoded: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(
            decoded,
            json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "team-a"}})
        );

        let protobuf = with_content_type(protobuf::MEDIA_TYPE);
        let refused = |headers: &HeaderMap, body: &'static [u8]| {
            as_json(headers, &Bytes::from_static(body)).expect_err("refused")
        };
        let garbage = refused(&protobuf, b"k8s\0\x0a\xff");
        assert_eq!((garbage.code, garbage.reason), (StatusCode::BAD_REQUEST, "BadRequest"));
        let not_protobuf = refused(&protobuf, br#"{"kind":"Namespace"}"#);
        assert_eq!(not_protobuf.code, StatusCode::BAD_REQUEST);
        let rollout =
            refused(&protobuf, b"k8s\0\x0a\x1f\x0a\x14argoproj.io/v1alpha1\x12\x07Rollout");
        assert_eq!(rollout.code, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(rollout.message.contains("Rollout"), "{}", rollout.message);
        let cbor = refused(&with_content_type("application/cbor"), b"\xa0");
        assert_eq!(
            (cbor.code, cbor.reason),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType")
        );
    }
}
