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
