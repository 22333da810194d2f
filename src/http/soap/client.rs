//! [`SoapClient`]: the one way a SOAP vendor sends a call.
//!
//! The client writes the envelope for its [`SoapVersion`] (1.1: `text/xml` and a `SOAPAction`
//! header; 1.2: `application/soap+xml` with an `action` parameter), puts the vendor's header
//! (its authentication) in it, sends it through the [`Transport`] with SOAP's answer hook (an
//! HTTP 500 holding a fault is an answer, not an outage), reads the answer with the hardened
//! reader and checks that it is the `<OpResponse>` of the operation in the vendor's namespace.
//! What a vendor adds is its header and how its faults map to the crate's errors
//! ([`SoapFailure::into_error`]).

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use url::Url;

use super::{
    Element, Node, SoapError, SoapFault, SoapVersion, accept_fault, envelope, read_envelope,
};
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

/// One SOAP call.
#[derive(Debug)]
pub struct SoapCall<'a> {
    /// The service URL.
    pub url: Url,
    /// The vendor's operation name (the body element is `<operation>`).
    pub operation: &'static str,
    /// The SOAP header's content (the vendor's authentication), if any.
    pub header: Option<&'a Node>,
    /// The `<operation>` element.
    pub body: Node,
    /// Whether repeating the call is harmless (see [`Request::idempotent`]).
    pub idempotent: bool,
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

    /// Sends `call` and returns its `<OpResponse>` element, checked to be in the vendor's
    /// namespace, or the fault, or the typed failure.
    pub async fn call(&self, call: SoapCall<'_>) -> std::result::Result<Element, SoapFailure> {
        let operation = call.operation;
        let provider = self.transport.provider();
        let body = envelope(self.version, call.header, &call.body);
        let (content_type, soap_action) = self.version.headers(&self.action(operation));
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            header_value(provider, operation, &content_type)?,
        );
        if let Some(a) = soap_action {
            headers.insert(
                header_name("soapaction"),
                header_value(provider, operation, &a)?,
            );
        }
        let mut request = Request::new(operation, Method::POST, call.url);
        request.headers = headers;
        request.body = body.into_bytes();
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
        let element = match read_envelope(&response.body) {
            Ok(e) => e,
            Err(SoapError::Fault(f)) => return Err(SoapFailure::Fault(f)),
            Err(SoapError::Invalid(detail)) => {
                return Err(SoapFailure::Error(self.invalid(operation, detail)));
            }
        };
        let expected = format!("{operation}Response");
        if element.name != expected {
            return Err(SoapFailure::Error(self.invalid(
                operation,
                format!("expected <{expected}>, got <{}>", element.name),
            )));
        }
        if element.namespace.as_deref() != Some(self.namespace) {
            return Err(SoapFailure::Error(self.invalid(
                operation,
                format!("<{expected}> is not in the {} namespace", self.namespace),
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
