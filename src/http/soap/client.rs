//! [`SoapClient`]: the one way a SOAP vendor sends a call.
//!
//! The client writes the envelope for its [`SoapVersion`] (1.1: `text/xml` and a `SOAPAction`
//! header; 1.2: `application/soap+xml` with an `action` parameter), puts the vendor's header
//! (its authentication) in it, sends it through the [`Transport`] with SOAP's answer hook (an
//! HTTP 500 holding a fault is an answer, not an outage), reads the answer with the hardened
//! reader and checks that it is the `<OpResponse>` of the operation in the vendor's namespace.
//! What a vendor adds is its header and how its faults map to the crate's errors
//! ([`SoapFailure::into_error`]).
//!
//! [`SoapClient::call_with`] decodes the answer on the [stream](super::stream), straight into
//! the vendor's typed result; [`SoapClient::call`] and [`SoapClient::call_result`] give the
//! `<OpResponse>` (or `<OpResult>`) element as a tree, for decoders written for trees. The
//! request body is written once into a reused buffer ([`request_body`]).

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use url::Url;

use super::request_body;
use super::stream::{self, Cursor};
use super::{Element, SoapError, SoapFault, SoapVersion, WriteXml, XmlError, accept_fault};
use crate::error::Error;
use crate::http::{Request, Transport, header_name, header_value};

/// A SOAP client for one vendor service namespace.
#[derive(Debug, Clone)]
pub struct SoapClient {
    transport: Transport,
    version: SoapVersion,
    namespace: &'static str,
    action_base: &'static str,
    empty_is_unavailable: bool,
}

/// One SOAP call. Header and body are anything that writes itself ([`WriteXml`]): a
/// [`Node`](super::Node), or a closure writing with an [`XmlWriter`](super::XmlWriter).
pub struct SoapCall<'a> {
    /// The service URL.
    pub url: Url,
    /// The vendor's operation name (the body element is `<operation>`).
    pub operation: &'static str,
    /// The SOAP header's content (the vendor's authentication), if any.
    pub header: Option<&'a (dyn WriteXml + Sync)>,
    /// The `<operation>` element.
    pub body: &'a (dyn WriteXml + Sync),
    /// Whether repeating the call is harmless (see [`Request::idempotent`]).
    pub idempotent: bool,
}

impl std::fmt::Debug for SoapCall<'_> {
    /// No header or body: they carry credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoapCall")
            .field("url", &self.url.as_str())
            .field("operation", &self.operation)
            .field("header", &self.header.is_some())
            .field("idempotent", &self.idempotent)
            .finish()
    }
}

/// Why a SOAP call gave no result: the vendor's fault, for the vendor to map, or any other
/// failure, already typed.
#[derive(Debug)]
pub enum SoapFailure {
    /// The vendor answered a SOAP fault.
    Fault(SoapFault),
    /// Anything else (transport, unreadable answer, wrong element).
    Error(Error),
}

impl SoapFailure {
    /// The crate error, with faults mapped by the vendor's `map_fault`.
    pub fn into_error(self, map_fault: impl FnOnce(SoapFault) -> Error) -> Error {
        match self {
            SoapFailure::Fault(f) => map_fault(f),
            SoapFailure::Error(e) => e,
        }
    }
}

impl From<Error> for SoapFailure {
    fn from(e: Error) -> Self {
        SoapFailure::Error(e)
    }
}

impl SoapClient {
    /// A client for the vendor namespace `namespace`, whose `SOAPAction` is `action_base`
    /// followed by the operation name.
    pub fn new(
        transport: Transport,
        version: SoapVersion,
        namespace: &'static str,
        action_base: &'static str,
    ) -> Self {
        Self {
            transport,
            version,
            namespace,
            action_base,
            empty_is_unavailable: false,
        }
    }

    /// Takes an empty answer for "service unavailable" ([`Error::Unavailable`]) rather than an
    /// unreadable one: some vendors answer an outage that way.
    pub fn empty_is_unavailable(mut self) -> Self {
        self.empty_is_unavailable = true;
        self
    }

    /// The transport.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The SOAP version.
    pub fn version(&self) -> SoapVersion {
        self.version
    }

    /// The vendor namespace.
    pub fn namespace(&self) -> &'static str {
        self.namespace
    }

    /// The action of `operation`.
    pub fn action(&self, operation: &str) -> String {
        format!("{}{operation}", self.action_base)
    }

    fn invalid(&self, operation: &'static str, detail: impl Into<String>) -> Error {
        Error::invalid_response(self.transport.provider(), operation, detail)
            .in_vendor_call(operation)
    }

    /// Sends `call` and returns the answer's body, or the typed failure.
    async fn send(
        &self,
        call: SoapCall<'_>,
    ) -> std::result::Result<crate::http::Response, SoapFailure> {
        let operation = call.operation;
        let provider = self.transport.provider();
        let body = request_body(
            self.version,
            call.header.map(|h| h as &dyn WriteXml),
            call.body,
        );
        let mut headers = HeaderMap::new();
        match self.version {
            SoapVersion::V11 => {
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/xml; charset=utf-8"),
                );
                let action = format!("\"{}{operation}\"", self.action_base);
                headers.insert(
                    header_name("soapaction"),
                    header_value(provider, operation, &action)?,
                );
            }
            SoapVersion::V12 => {
                let (content_type, _) = self.version.headers(&self.action(operation));
                headers.insert(
                    CONTENT_TYPE,
                    header_value(provider, operation, &content_type)?,
                );
            }
        }
        let mut request = Request::new(operation, Method::POST, call.url);
        request.headers = headers;
        request.body = body;
        request.idempotent = call.idempotent;
        request.accept = Some(accept_fault);
        let response = self.transport.send(request).await?;
        if self.empty_is_unavailable && response.body.iter().all(u8::is_ascii_whitespace) {
            return Err(SoapFailure::Error(Error::unavailable(
                provider.to_owned(),
                operation,
                response.attempts,
                "the service answered with an empty body (service unavailable)",
            )));
        }
        Ok(response)
    }

    /// Sends `call` and decodes the answer on the stream: `decode` gets the cursor just inside
    /// the `<OpResponse>` element (checked to be the operation's, in the vendor's namespace)
    /// and reads what it needs; the rest of the document is still read and checked. A fault
    /// is [`SoapFailure::Fault`]; an unusable answer [`Error::InvalidResponse`].
    pub async fn call_with<T>(
        &self,
        call: SoapCall<'_>,
        decode: impl for<'a> Fn(&mut Cursor<'a>) -> std::result::Result<T, XmlError>,
    ) -> std::result::Result<T, SoapFailure> {
        let operation = call.operation;
        let response = self.send(call).await?;
        self.decode(operation, &response.body, decode)
    }

    /// Decodes an answer to `operation` as [`call_with`](Self::call_with) does.
    pub fn decode<T>(
        &self,
        operation: &'static str,
        body: &[u8],
        decode: impl for<'a> Fn(&mut Cursor<'a>) -> std::result::Result<T, XmlError>,
    ) -> std::result::Result<T, SoapFailure> {
        let read = stream::read_operation(body, operation, self.namespace, decode);
        match read {
            Ok(t) => Ok(t),
            Err(SoapError::Fault(f)) => Err(SoapFailure::Fault(f)),
            Err(SoapError::Invalid(detail)) => {
                Err(SoapFailure::Error(self.invalid(operation, detail)))
            }
        }
    }

    /// Sends `call` and returns its `<OpResponse>` element as a tree, checked to be in the
    /// vendor's namespace, or the fault, or the typed failure. The streaming reader reads the
    /// answer and builds only that element ([`stream::read_envelope`]): on the quick path that
    /// takes under half the time of the tree reader, with the same answers and errors (the
    /// differential tests hold the two to it). Prefer [`call_with`](Self::call_with) and a
    /// decoder where the answer is read often.
    pub async fn call(&self, call: SoapCall<'_>) -> std::result::Result<Element, SoapFailure> {
        let operation = call.operation;
        let response = self.send(call).await?;
        let element = match stream::read_envelope(&response.body) {
            Ok(e) => e,
            Err(SoapError::Fault(f)) => return Err(SoapFailure::Fault(f)),
            Err(SoapError::Invalid(detail)) => {
                return Err(SoapFailure::Error(self.invalid(operation, detail)));
            }
        };
        if element.name.strip_suffix("Response") != Some(operation) {
            return Err(SoapFailure::Error(self.invalid(
                operation,
                format!("expected <{operation}Response>, got <{}>", element.name),
            )));
        }
        if element.namespace.as_deref() != Some(self.namespace) {
            return Err(SoapFailure::Error(self.invalid(
                operation,
                format!(
                    "<{operation}Response> is not in the {} namespace",
                    self.namespace
                ),
            )));
        }
        Ok(element)
    }
    /// [`call`](Self::call), then the `<OpResult>` child (or the response element itself when
    /// there is none).
    pub async fn call_result(
        &self,
        call: SoapCall<'_>,
    ) -> std::result::Result<Element, SoapFailure> {
        let operation = call.operation;
        let mut response = self.call(call).await?;
        Ok(response
            .take_child(&format!("{operation}Result"))
            .unwrap_or(response))
    }
}
