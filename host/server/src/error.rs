//! Every error the API answers: its status and an [`ErrorBody`].

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lpdnn_baas_api::ErrorBody;
use lpdnn_jobs::StoreError;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// An error answered as JSON `{"error": ...}` with its status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    pub(crate) message: String,
    details: Option<Value>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            details: None,
        }
    }

    pub(crate) fn with(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The status it answers with.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
            StoreError::Conflict { .. } => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            StoreError::Quota { .. } => ApiError::new(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
            e => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            details: self.details,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("valid"));
        }
        response
    }
}

/// `422`: the request is well-formed but asks for what cannot be.
pub(crate) fn unprocessable(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

/// A query string read into `T`; one that does not fit (an unknown
/// parameter, a value that is none of an enum's) is a `400` with an
/// [`ErrorBody`] naming the parameter.
pub(crate) struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))
    }
}
