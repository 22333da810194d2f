//! # Brinks Home
//!
//! The provider for Brinks Home (formerly Monitronics). Brinks Home's interactive service is
//! Alarm.com, but a Brinks Home dealer does not provision it at Alarm.com: the dealer puts the
//! site online through Brinks Home's own dealer SOAP service (MIDI, `MIDI.asmx`, namespace
//! `https://mimasweb.monitronics.net/MIDI/`), naming Alarm.com as the site's cell provider
//! (`CELLPROV=ALMCOM`), the module's serial (`CELLMAC`) and the interactive service level
//! (`ALMCOMINTSVC`) as *site system options*. Pointing it at the real endpoint with real
//! credentials is all a dealer has to do.
//!
//! ## Configuration
//!
//! | credential key | required | secret | meaning |
//! |---|---|---|---|
//! | `app_id` | yes | yes | the `appID` Brinks Home issued for the integration (the `ApplicationIDHeader` of every call) |
//! | `user_name` | yes | no | the dealer services user id (`UserID`, `userName`) |
//! | `password` | yes | yes | its password |
//! | `entity` | yes | no | the dealer (entity, service company) number, digits: new sites are installed and serviced under it (`servco_no`, `install_servco_no`) |
//!
//! The endpoint defaults to [`PRODUCTION_ENDPOINT`]. The configuration's `endpoint` may be the
//! service URL itself (ending in `.asmx`), its `MIDI/` folder, or a host root (the service is
//! then `MIDI/MIDI.asmx` under it), so a simulator's root works too. Only SOAP 1.1 is spoken; a
//! SOAP version in [`ProviderOptions`] is ignored.
//!
//! ## Provisioning fields
//!
//! A Brinks Home account is a site, known by its central station (CS) number, which the dealer
//! assigns from the receiver line block Brinks Home gave it. The CS number is the
//! [`AccountId`]. What the vendor-neutral [`ProvisionRequest`] lacks travels in
//! [`vendor_fields`](ProvisionRequest::vendor_fields):
//!
//! | key | required | meaning |
//! |---|---|---|
//! | `cs_number` | yes | the site's CS number (digits); the account id |
//! | `module_serial` | yes, unless the request's `modem_serial` carries it | the Alarm.com module serial (`CELLMAC`) |
//! | `site_type` | no | `residential` or `commercial` (`sitetype_id` `RBFM`/`CBFM`); commercial when the plan is `CBI`/`CAI` or the property a business |
//! | `system_type` | no | the Brinks Home system type id (`systype_id`, such as `A2C020`) |
//!
//! Missing or malformed fields are reported together as [`Error::InvalidRequest`], with their
//! field paths and without quoting their values, before any request.
//!
//! ## Plans and add-ons
//!
//! A plan is an interactive service level, the value of `ALMCOMINTSVC`: `RBI`, `RAI`, `CBI`,
//! `CAI` (residential and commercial, basic and advanced interactive), and the others
//! [`SERVICE_LEVELS`] lists. An add-on is a site system option `ALMCOM<NAME>` whose presence
//! turns it on (`ALMCOMWEATHER`, `ALMCOMGARAGEDOOR`, ...); the crate's feature id is `<NAME>`
//! (`WEATHER`, `GARAGEDOOR`; see [`ADD_ONS`]), so that a feature the crate does not know
//! round-trips as it is. Add-ons have no quantities.
//!
//! ## Capabilities
//!
//! Credential check, service plans, provisioning (never a duplicate), account read, plan and
//! add-on changes, terminate (idempotent), account listing (modelled). Validation-only changes,
//! quantities, events, billing and Builder Program records answer [`Error::Unsupported`].
//!
//! ## Operations used
//!
//! | crate call | MIDI operation(s) |
//! |---|---|
//! | `validate_credentials` | `GetData` entity `CellProviders` (is `ALMCOM` among them?) |
//! | `service_plans` | `GetData` entity `Cellsvcs` with `<GetCellSvcs><GetCellSvc cell_provider="ALMCOM"/></GetCellSvcs>` |
//! | `provision` | `GetData` entity `Sites` by dealer customer id (else entity `Sitesystems` by CS number), then `AccountOnline` |
//! | `account` | `GetData` entities `Sitesystemoptions`, `Contacts` and `Siteoptions` for the CS number |
//! | `change_plan` | the account read, then `Update` `C` (the level), `A` (added add-ons), `D` (removed add-ons) |
//! | `terminate` | the account read, then `Update` `D` of `ALMCOMINTSVC` and the add-ons (the module and `CELLPROV` stay: the site keeps its cell path) |
//! | `list_accounts` | `GetData` entity `Sites` by cell provider `ALMCOM` |
//!
//! A provision sends the contact (first and last name, phone, e-mail), the installation
//! address (else the address) without its country, the plan, the add-ons and the fields
//! above; the request's time zone, desired login, panel type, notification e-mails, property
//! type (beyond choosing a commercial site), central station forwarding and Builder Program
//! have no place in `AccountOnline` and are not sent. The account read gives the contract
//! signer's name, phone and e-mail, the plan, the add-ons, the status and the dealer customer
//! id; a commercial site's company name (its `site_name`) is not read back.
//!
//! A terminated account is a site whose cell provider is still `ALMCOM` but which has no
//! `ALMCOMINTSVC` any more. A site whose cell provider is not `ALMCOM` is not an account of
//! this provider: reading it is [`Error::NotFound`].
//!
//! ## Inner XML, escaped once
//!
//! `AccountOnline`'s `xml`, `GetData`'s and `Update`'s `XMLData` carry XML documents *as text*.
//! The provider writes each inner document with quick-xml's writer (every attribute value
//! escaped by the writer, never assembled by hand) and puts the finished document into the
//! envelope as element text, which the envelope writer escapes once more: a `<` in a name is
//! `&lt;` in the inner document and `&amp;lt;` on the wire, never more, never less. An answer's
//! inner document is the result element's text, unescaped once by the envelope reader and
//! parsed with the same hardened reader and limits as any vendor body
//! ([`soap::stream::parse`](crate::http::soap::stream::parse): no DTD, no entity expansion,
//! depth and element caps). A malformed inner document is [`Error::InvalidResponse`] naming
//! the provider, the crate's operation and the MIDI operation.
//!
//! ## Never a duplicate customer
//!
//! `provision` runs through [`create_once`](super::common::create_once): creates for one
//! dealer customer id are serialized, the customer is looked up before `AccountOnline`, and
//! after an answer that was lost (timeout, reset, 5xx, cut-off body) it is looked up again
//! rather than created again. The lookup asks `GetData` entity `Sites` for the dealer customer
//! id (kept in the site option `DLRCUSTID`, modelled). A service that does not know that
//! entity is asked, with a seen call, whether the request's CS number is already online
//! (`GetData` entity `Sitesystems`): one site per CS number, so a lost `AccountOnline` is still
//! never repeated; a site found there is reported as this customer's, whichever customer put it
//! online. `AccountOnline` itself is never retried by the transport.
//!
//! ## Seen and modelled
//!
//! "Seen" is what public client code of the MIDI service shows (PHP and .NET dealer
//! integrations); "modelled" is the crate's model of what no public source shows. The
//! simulator speaks the same model.
//!
//! | part | seen or modelled |
//! |---|---|
//! | endpoint `https://mimasweb.monitronics.net/MIDI/MIDI.asmx`, namespace, SOAP 1.1, `SOAPAction` = namespace + operation | seen |
//! | `ApplicationIDHeader`/`appID` header | seen (public code sends it with `AccountOnline` and `Immediate`; the provider sends it on every call) |
//! | `GetData(Entity, UserID, Password, CustomerNumber, XMLData)` | seen |
//! | `AccountOnline(userName, password, csNo, xml, creditRequestXml, purchaseInfoXml)` | seen |
//! | `Update` with request types `A`, `C`, `D`, a CS number and an `<Account>` document | seen (the operation and its arguments) |
//! | `Update`'s element names `UserID`, `Password`, `RequestType`, `CustomerNumber`, `XMLData` | modelled |
//! | inner `<Account>`: `SiteSystems/SiteSystem` (`site_name`, `site_addr1`, `city_name`, `state_id`, `zip_code`, `phone1`, `servco_no`, `install_servco_no`, `sitetype_id` `RBFM`/`CBFM`, `sitestat_id`, `lang_id`, `systype_id`), `Contacts/Contact` (`first_name`, `last_name`, `contract_signer_flag`, `phone1`, `email_address`), `SiteOptions/SiteOption`, `SiteSystemOptions/SiteSystemOption` (`option_id`, `option_value`) | seen |
//! | `site_addr2` | modelled |
//! | site system options `CELLPROV=ALMCOM`, `CELLMAC`, `ALMCOMINTSVC`, add-ons `ALMCOM…` with an empty value | seen |
//! | `ALMCOMINTSVC` levels `RBI`, `RAI`, `CBI`, `CAI`, `INT`, `INTAUT`, `INTGLD`, `HMCTR` | seen (their names here are modelled) |
//! | site option `DLRCUSTID` holding the dealer customer id | modelled |
//! | `GetData` entities `CellProviders` (`cell_provider`, `descr`), `Cellsvcs` with `<GetCellSvcs>` (`option_id`, `descr`), `Sitesystems` and `Contacts` by CS number | seen |
//! | `Cellsvcs` rows for the levels: `option_id` `ALMCOMINTSVC` with the level in `option_value` | modelled (when no level is listed, the seen levels are offered) |
//! | `GetData` entity `Sitesystemoptions` by CS number | the request document is seen, the entity name modelled |
//! | `GetData` entities `Siteoptions` and `Sites` (`<GetSites><GetSite dealer_cust_id=…/>` or `cell_provider=…`, rows `cs_no`, `dealer_cust_id`, `interactive_service`) | modelled ([`MODELLED_ENTITIES`]) |
//! | answers are .NET DataSets: `GetData` errors in an `err_msg` column; `AccountOnline`/`Update` rows with `table_name`, `entry_id`, `err_no`, `msg_type` (0 information, else error), `err_text`, the confirmation in row `SiteOption`/`Confirm#` (`Online confirmation #, 08528269; Digital`) | seen |
//! | the DataSet inline in the result (`xs:schema`, `diffgr:diffgram`, `NewDataSet`) | seen; a result whose *text* is the data set as an escaped document is read too (modelled) |
//! | column names of the `Sitesystemoptions`, `Contacts` and `Siteoptions` rows (the inner document's attribute names) | modelled |
//! | the texts of vendor errors: a refused login says so (`Login failed`, `invalid user`, `password`), an unknown site `No site found`, an unknown entity `Invalid entity` | modelled |
//! | a wrong `appID`: a `soap:Client` fault mentioning the application id | modelled |
//!
//! When the service does not know a modelled entity, the provider carries on with seen calls
//! where it can: the lookup before a create falls back to the CS number, the account read
//! leaves the dealer customer id out, and only the listing answers [`Error::Unsupported`].

#[cfg(feature = "testkit")]
pub mod simulator;
mod spec;
pub(crate) mod wire;

use std::collections::BTreeSet;
use std::sync::Arc;

use secrecy::ExposeSecret;
use url::Url;

use crate::config::IspConfig;
use crate::error::{Error, Result, ValidationErrors};
use crate::http::soap::{
    Node, SoapCall, SoapClient, SoapError, SoapFailure, SoapFault, SoapVersion,
};
use crate::http::{Transport, TransportOptions};
use crate::model::{
    AccountId, AccountStatus, AddOn, Contact, CredentialCheck, DealerCustomerId, FeatureId,
    IspAccount, PlanChange, PlanId, PropertyType, ProvisionRequest, ServicePlan,
    UnverifiedPermission,
};
use crate::provider::{
    Capabilities, InteractiveServicesProvider, ProviderOptions, ProviderRegistry,
};
use crate::providers::common::CreateOnce;

pub use spec::{KIND, NAME, SPEC};
pub use wire::{ADD_ONS, CELL_PROVIDER, MODELLED_ENTITIES, RequestType, SERVICE_LEVELS};
use wire::{InnerNode, Row, Said, entity};

/// The MIDI service of Brinks Home's production host.
pub const PRODUCTION_ENDPOINT: &str = "https://mimasweb.monitronics.net/MIDI/MIDI.asmx";

const PROVIDER: &str = NAME;

/// Registers Brinks Home in `registry`.
pub(crate) fn register(registry: &mut ProviderRegistry) {
    registry.register_spec(SPEC, |config: &IspConfig, options: &ProviderOptions| {
        let provider = BrinksHome::builder(config).options(options).build()?;
        Ok(Arc::new(provider) as Arc<dyn InteractiveServicesProvider>)
    });
}

/// The Brinks Home provider. Build it with [`BrinksHome::from_config`] or
/// [`BrinksHome::builder`].
#[derive(Debug)]
pub struct BrinksHome {
    soap: SoapClient,
    url: Url,
    login: spec::Login,
    creates: CreateOnce,
}

/// Builds a [`BrinksHome`] provider with non-default settings.
#[derive(Debug, Clone)]
pub struct BrinksHomeBuilder {
    config: IspConfig,
    options: TransportOptions,
    client: Option<reqwest::Client>,
    creates: CreateOnce,
}

impl BrinksHomeBuilder {
    /// Transport settings (timeouts, retries, body cap).
    pub fn transport_options(mut self, options: TransportOptions) -> Self {
        self.options = options;
        self
    }

    /// How creates are kept to one per dealer customer id (the coordinator that serializes them,
    /// in-process by default, and the commit horizon).
    pub fn create_once(mut self, settings: CreateOnce) -> Self {
        self.creates = settings;
        self
    }

    /// Everything the host set in `options` that applies (the MIDI service is SOAP 1.1 only: a
    /// SOAP version is ignored).
    pub fn options(mut self, options: &ProviderOptions) -> Self {
        if let Some(t) = &options.transport {
            self.options = t.clone();
        }
        if let Some(c) = &options.http_client {
            self.client = Some(c.clone());
        }
        if let Some(c) = &options.create_once {
            self.creates = c.clone();
        }
        self
    }

    /// Builds the provider.
    pub fn build(self) -> Result<BrinksHome> {
        let login = spec::Login::from_config(&self.config)?;
        let url = service_url(self.config.endpoint())?;
        let transport = match self.client {
            Some(client) => Transport::with_client(PROVIDER, self.options, client),
            None => Transport::new(PROVIDER, self.options)?,
        }
        .with_secrets([login.password.clone(), login.app_id.clone()]);
        Ok(BrinksHome {
            soap: SoapClient::new(
                transport,
                SoapVersion::V11,
                wire::NAMESPACE,
                wire::ACTION_BASE,
            ),
            url,
            login,
            creates: self.creates,
        })
    }
}

/// The service URL for a configured endpoint: an `.asmx` URL as it is, a `MIDI/` folder with
/// `MIDI.asmx`, any other folder with `MIDI/MIDI.asmx`.
fn service_url(endpoint: Option<&Url>) -> Result<Url> {
    let invalid = |why: String| Error::invalid_config(PROVIDER, "endpoint", why);
    let base = match endpoint {
        Some(u) => u.clone(),
        None => Url::parse(PRODUCTION_ENDPOINT).map_err(|e| invalid(e.to_string()))?,
    };
    let path = base.path().to_ascii_lowercase();
    if path.ends_with(".asmx") {
        return Ok(base);
    }
    let folder = super::common::as_folder(base);
    let tail = if folder.path().to_ascii_lowercase().ends_with("/midi/") {
        wire::SERVICE_FILE.to_owned()
    } else {
        format!("MIDI/{}", wire::SERVICE_FILE)
    };
    folder.join(&tail).map_err(|e| invalid(e.to_string()))
}

/// What a provision request becomes, checked before any request.
struct Site {
    cs_number: String,
    module_serial: String,
    plan: PlanId,
    commercial: bool,
    system_type: Option<String>,
}

impl BrinksHome {
    /// A builder from a validated configuration.
    pub fn builder(config: &IspConfig) -> BrinksHomeBuilder {
        BrinksHomeBuilder {
            config: config.clone(),
            options: TransportOptions::default(),
            client: None,
            creates: CreateOnce::default(),
        }
    }

    /// The provider for `config` with default settings.
    pub fn from_config(config: &IspConfig) -> Result<Self> {
        Self::builder(config).build()
    }

    /// The MIDI service URL the provider calls.
    pub fn service_url(&self) -> &Url {
        &self.url
    }

    /// An error as the outcome of the crate's `operation`, with the configured secrets
    /// scrubbed from whatever the vendor said.
    fn finish(&self, error: Error, operation: &'static str) -> Error {
        self.soap.transport().redact(error.during(operation))
    }

    fn invalid_response(operation: &'static str, detail: impl Into<String>) -> Error {
        Error::invalid_response(PROVIDER, operation, detail).in_vendor_call(operation)
    }

    fn parse<T>(operation: &'static str, r: std::result::Result<T, wire::ParseError>) -> Result<T> {
        r.map_err(|detail| Self::invalid_response(operation, detail))
    }

    /// Sends one operation and returns the rows of its DataSet answer, with faults mapped to
    /// the crate's errors and a malformed inner document as [`Error::InvalidResponse`].
    async fn call(
        &self,
        operation: &'static str,
        body: Node,
        idempotent: bool,
    ) -> Result<Vec<Row>> {
        let header = wire::application_header(self.login.app_id.expose_secret());
        let call = SoapCall {
            url: self.url.clone(),
            operation,
            header: Some(&header),
            body: &body,
            idempotent,
        };
        let result = self
            .soap
            .call_result(call)
            .await
            .map_err(|f: SoapFailure| f.into_error(|fault| self.fault_error(operation, fault)))?;
        Self::parse(operation, wire::dataset(&result))
    }

    fn fault_error(&self, operation: &'static str, fault: SoapFault) -> Error {
        if fault.is_unknown_operation() {
            let modelled = if operation == wire::UPDATE {
                " (the crate modelled its parameters' names: no public source shows them)"
            } else {
                ""
            };
            return Error::unsupported_because(
                PROVIDER,
                operation,
                format!("this MIDI service does not know the operation {operation}{modelled}"),
            );
        }
        if wire::classify(&fault.reason) == Said::LoginFailed {
            return Error::unauthenticated(PROVIDER, operation, fault.reason)
                .in_vendor_call(operation);
        }
        SoapError::Fault(fault).into_error(PROVIDER, operation)
    }

    /// The crate error for a vendor message of `operation` (about `what`).
    fn said(operation: &'static str, what: &str, text: &str, code: Option<String>) -> Error {
        match wire::classify(text) {
            Said::LoginFailed => Error::unauthenticated(PROVIDER, operation, text),
            Said::UnknownEntity => {
                let modelled = if MODELLED_ENTITIES.iter().any(|m| m.eq_ignore_ascii_case(what)) {
                    " (the crate modelled it: no public source shows it)"
                } else {
                    ""
                };
                Error::unsupported_because(
                    PROVIDER,
                    operation,
                    format!("this MIDI service does not know the GetData entity {what}{modelled}: {text}"),
                )
            }
            Said::NotFound => Error::not_found(PROVIDER, operation, text),
            Said::Refused => Error::rejected(PROVIDER, operation, code, text),
        }
        .in_vendor_call(operation)
    }

    /// `GetData` for `entity`: its rows, or the error its `err_msg` says.
    async fn get_data(
        &self,
        entity: &'static str,
        customer_number: Option<&str>,
        query: Option<InnerNode>,
    ) -> Result<Vec<Row>> {
        let xml = query
            .map(|q| q.to_document())
            .transpose()
            .map_err(|e| Error::invalid_request(PROVIDER, wire::GET_DATA, e))?;
        let body = wire::get_data(
            entity,
            &self.login.user_name,
            self.login.password.expose_secret(),
            customer_number,
            xml,
        );
        let rows = self.call(wire::GET_DATA, body, true).await?;
        if let Some(message) = wire::get_data_error(&rows) {
            return Err(Self::said(wire::GET_DATA, entity, message, None));
        }
        // Rows that name a site must name the one asked for.
        if let Some(cs) = customer_number {
            if let Some(other) = rows
                .iter()
                .map(|r| r.code("cs_no"))
                .find(|c| !c.is_empty() && *c != cs)
            {
                return Err(Self::invalid_response(
                    wire::GET_DATA,
                    format!(
                        "the {entity} answer for CS number {cs} holds a row of CS number {other}"
                    ),
                ));
            }
        }
        Ok(rows)
    }

    /// Sends an `AccountOnline` or `Update` and reads its outcome: `Ok` with the confirmation,
    /// or the error its messages say.
    async fn change(
        &self,
        operation: &'static str,
        body: Node,
        idempotent: bool,
    ) -> Result<Option<String>> {
        let rows = self.call(operation, body, idempotent).await?;
        let outcome = wire::outcome(&rows);
        if outcome.errors.is_empty() {
            return Ok(outcome.confirmation);
        }
        let text = outcome
            .errors
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let code = outcome.errors.iter().find_map(|m| m.number.clone());
        Err(Self::said(operation, operation, &text, code))
    }

    /// An `Update` of site system options of site `cs_number`.
    async fn update(
        &self,
        cs_number: &str,
        request_type: RequestType,
        options: Vec<InnerNode>,
    ) -> Result<()> {
        let document = wire::options_document(options)
            .to_document()
            .map_err(|e| Error::invalid_request(PROVIDER, wire::UPDATE, e))?;
        let body = wire::update(
            &self.login.user_name,
            self.login.password.expose_secret(),
            request_type,
            cs_number,
            document,
        );
        // Setting a value again is harmless; adding or deleting twice is not.
        let idempotent = request_type == RequestType::Change;
        self.change(wire::UPDATE, body, idempotent)
            .await
            .map(|_| ())
    }

    /// The site of the dealer customer `dealer_customer_id`: `GetData` entity `Sites`
    /// (modelled); when the service does not know it, whether `cs_number` is online (seen).
    pub async fn lookup_dealer_customer(
        &self,
        dealer_customer_id: &str,
        cs_number: &str,
    ) -> Result<Option<AccountId>> {
        let query = wire::sites_query("dealer_cust_id", dealer_customer_id);
        match self.get_data(entity::SITES, None, Some(query)).await {
            Ok(rows) => {
                // A row that names another dealer customer is not this one's, whatever the
                // service made of the filter.
                let rows: Vec<Row> = rows
                    .into_iter()
                    .filter(|r| {
                        let d = r.code("dealer_cust_id");
                        d.is_empty() || d == dealer_customer_id.trim()
                    })
                    .collect();
                let sites = Self::parse(wire::GET_DATA, wire::sites(&rows))?;
                Ok(sites.first().map(|s| AccountId::new(s.cs_number.as_str())))
            }
            Err(Error::NotFound { .. }) => Ok(None),
            Err(Error::Unsupported { .. }) => {
                tracing::info!(
                    provider = PROVIDER,
                    "the service does not know the Sites entity (modelled); looking the CS number up instead"
                );
                match self
                    .get_data(entity::SITE_SYSTEMS, Some(cs_number), None)
                    .await
                {
                    Ok(rows) if !rows.is_empty() => Ok(Some(AccountId::new(cs_number))),
                    Ok(_) | Err(Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Everything a provision request needs beyond the vendor-neutral rules, or every problem.
    fn site_of(request: &ProvisionRequest) -> Result<Site> {
        let mut problems = ValidationErrors::new();
        SPEC.validate_provision_fields(&request.vendor_fields, &mut problems);
        let field = |key: &str| {
            request
                .vendor_fields
                .get(key)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        let cs_number = field("cs_number").unwrap_or("");
        if !cs_number.is_empty()
            && (!spec::is_number(cs_number) || cs_number.bytes().all(|b| b == b'0'))
        {
            problems.push(
                "vendor_fields.cs_number",
                "the CS number is digits only (up to 18), not zero",
            );
        }
        let from_request = request
            .modem_serial
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let module_serial = match (field("module_serial"), from_request) {
            (Some(a), Some(b)) if a != b => {
                problems.push(
                    "vendor_fields.module_serial",
                    "differs from the request's modem serial; give the Alarm.com module serial once",
                );
                ""
            }
            (Some(s), _) | (None, Some(s)) => s,
            (None, None) => {
                problems.push(
                    "modem_serial",
                    "give the Alarm.com module serial (in modem_serial or vendor_fields.module_serial); Brinks Home sends it as CELLMAC",
                );
                ""
            }
        };
        let plan = match &request.plan {
            None => {
                problems.push(
                    "plan",
                    "name an interactive service level (ALMCOMINTSVC) such as RBI, or set the configuration's default plan",
                );
                None
            }
            Some(p) => match (SPEC.check_plan_id)(p.as_str()) {
                Ok(()) => Some(p.clone()),
                Err(why) => {
                    problems.push("plan", why);
                    None
                }
            },
        };
        let kind = plan.as_ref().and_then(|p| wire::plan_kind(p.as_str()));
        let commercial = match field("site_type").map(str::to_ascii_lowercase).as_deref() {
            Some("commercial") => true,
            Some("residential") => false,
            Some(_) => {
                problems.push(
                    "vendor_fields.site_type",
                    "the site type is residential or commercial",
                );
                false
            }
            None => {
                kind == Some("Commercial")
                    || matches!(request.property_type, Some(PropertyType::Business))
            }
        };
        add_on_problems(&request.add_ons, "add_ons", &mut problems);
        match plan {
            Some(plan) if problems.is_empty() => Ok(Site {
                cs_number: cs_number.to_owned(),
                module_serial: module_serial.to_owned(),
                plan,
                commercial,
                system_type: field("system_type").map(str::to_owned),
            }),
            _ => Err(Error::invalid_request(
                PROVIDER,
                "provision",
                problems.to_string(),
            )),
        }
    }

    /// The `<Account>` document of a new site.
    fn account_document(&self, request: &ProvisionRequest, site: &Site) -> InnerNode {
        let c = &request.contact;
        let a = request
            .installation_address
            .as_ref()
            .unwrap_or(&request.address);
        let person = [c.first_name.trim(), c.last_name.trim()]
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let site_name = match (&c.company, site.commercial) {
            (Some(company), true) if !company.trim().is_empty() => company.clone(),
            _ => person,
        };
        let phone = c.phone.as_deref().filter(|p| !p.trim().is_empty());
        let system = InnerNode::new("SiteSystem")
            .attr("site_name", site_name)
            .attr("site_addr1", a.street1.as_str())
            .opt_attr("site_addr2", a.street2.as_deref())
            .attr("city_name", a.city.as_str())
            .attr("state_id", a.state.as_str())
            .attr("zip_code", a.zip.as_str())
            .opt_attr("phone1", phone)
            .attr("servco_no", self.login.entity.as_str())
            .attr("install_servco_no", self.login.entity.as_str())
            .attr(
                "sitetype_id",
                if site.commercial {
                    wire::SITE_COMMERCIAL
                } else {
                    wire::SITE_RESIDENTIAL
                },
            )
            .attr("sitestat_id", "A")
            .attr("lang_id", "ENG")
            .opt_attr("systype_id", site.system_type.as_deref());
        let contact = InnerNode::new("Contact")
            .attr("first_name", c.first_name.as_str())
            .attr("last_name", c.last_name.as_str())
            .attr("contract_signer_flag", "Y")
            .opt_attr("phone1", phone)
            .opt_attr("email_address", c.email.as_deref());
        let add_ons = request
            .add_ons
            .iter()
            .map(|a| wire::site_system_option(wire::add_on_option(a.feature.as_str()), ""));
        InnerNode::new("Account")
            .child(InnerNode::new("SiteSystems").child(system))
            .child(InnerNode::new("Contacts").child(contact))
            .child(
                InnerNode::new("SiteOptions").child(
                    InnerNode::new("SiteOption")
                        .attr("option_id", wire::OPT_DEALER_CUSTOMER)
                        .attr("option_value", request.dealer_customer_id.as_str()),
                ),
            )
            .child(
                InnerNode::new("SiteSystemOptions")
                    .child(wire::site_system_option(
                        wire::OPT_CELL_PROVIDER,
                        CELL_PROVIDER,
                    ))
                    .child(wire::site_system_option(
                        wire::OPT_MODULE_SERIAL,
                        site.module_serial.as_str(),
                    ))
                    .child(wire::site_system_option(
                        wire::OPT_SERVICE_LEVEL,
                        site.plan.as_str(),
                    ))
                    .children(add_ons),
            )
    }

    /// `AccountOnline` for a new site; never repeated by the transport.
    async fn account_online(&self, request: &ProvisionRequest, site: &Site) -> Result<IspAccount> {
        let document = self
            .account_document(request, site)
            .to_document()
            .map_err(|e| Error::invalid_request(PROVIDER, "provision", e))?;
        let body = wire::account_online(
            &self.login.user_name,
            self.login.password.expose_secret(),
            &site.cs_number,
            document,
        );
        let confirmation = self.change(wire::ACCOUNT_ONLINE, body, false).await?;
        tracing::debug!(
            provider = PROVIDER,
            cs_number = %site.cs_number,
            confirmation = confirmation.as_deref().unwrap_or(""),
            "the site is online"
        );
        Ok(IspAccount {
            id: AccountId::new(site.cs_number.as_str()),
            dealer_customer_id: Some(request.dealer_customer_id.clone()),
            contact: request.contact.clone(),
            login_name: None,
            initial_password: None,
            plan: Some(site.plan.clone()),
            add_ons: request.add_ons.iter().cloned().collect(),
            status: AccountStatus::Active,
            created_at: Some(chrono::Utc::now()),
        })
    }
}

/// The problems of add-ons sent to Brinks Home: no quantities, and names without the `ALMCOM`
/// prefix (which the provider adds). Values are not quoted back.
fn add_on_problems(add_ons: &[AddOn], path: &str, problems: &mut ValidationErrors) {
    for (i, a) in add_ons.iter().enumerate() {
        let name = a.feature.as_str();
        if a.quantity.is_some() {
            problems.push(
                format!("{path}[{i}]"),
                "Brinks Home add-ons have no quantities",
            );
        }
        if name
            .get(..wire::ADD_ON_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(wire::ADD_ON_PREFIX))
        {
            problems.push(
                format!("{path}[{i}]"),
                "write the add-on's name without the ALMCOM prefix (WEATHER, not ALMCOMWEATHER)",
            );
        }
    }
}

/// The operations' bodies; the trait methods name the crate's operation on their errors.
impl BrinksHome {
    async fn validate_credentials_inner(&self) -> Result<CredentialCheck> {
        let rows = self.get_data(entity::CELL_PROVIDERS, None, None).await?;
        if !wire::cell_providers(&rows)
            .iter()
            .any(|p| p == CELL_PROVIDER)
        {
            return Err(Error::permission_denied(
                PROVIDER,
                "validate_credentials",
                "the ALMCOM (Alarm.com) cell provider",
                format!(
                    "Brinks Home does not list Alarm.com (ALMCOM) among the cell providers of dealer {}. Ask Brinks Home dealer support to enable Alarm.com interactive services for your dealer number, then check the credentials again.",
                    self.login.entity
                ),
            )
            .in_vendor_call(wire::GET_DATA));
        }
        Ok(CredentialCheck {
            login: self.login.user_name.clone(),
            granted: vec!["provisioning".into()],
            missing: Vec::new(),
            unverified: vec![
                UnverifiedPermission {
                    permission: "dealer (entity) number".into(),
                    needed_for: "provisioning".into(),
                    how_to_check: "No public MIDI call tells which dealer number a user id belongs to; Brinks Home refuses a new site serviced under another dealer's number. Compare the configuration's entity with the dealer number on your Brinks Home dealer agreement.".into(),
                },
                UnverifiedPermission {
                    permission: "application id (appID)".into(),
                    needed_for: "provisioning".into(),
                    how_to_check: "Public client code sends the appID with AccountOnline (which a check cannot call without creating a site); whether GetData checks it is not known. A wrong appID shows at the latest on the first provision, as a refused login.".into(),
                },
            ],
        })
    }

    async fn service_plans_inner(&self) -> Result<Vec<ServicePlan>> {
        let rows = self
            .get_data(
                entity::CELL_SERVICES,
                None,
                Some(wire::cell_services_query(CELL_PROVIDER)),
            )
            .await?;
        let plans = wire::service_levels(&rows);
        if plans.is_empty() {
            tracing::info!(
                provider = PROVIDER,
                "Cellsvcs listed no ALMCOMINTSVC level; offering the levels public client code shows"
            );
            return Ok(wire::seen_levels());
        }
        Ok(plans)
    }

    async fn provision_inner(&self, request: &ProvisionRequest) -> Result<IspAccount> {
        super::common::valid_request(PROVIDER, request)?;
        let site = Self::site_of(request)?;
        let dealer_id = request.dealer_customer_id.as_str();
        let scope = format!(
            "{}|{}|{}",
            self.url, self.login.user_name, self.login.entity
        );
        super::common::create_once(
            &self.creates,
            PROVIDER,
            &scope,
            dealer_id,
            || self.lookup_dealer_customer(dealer_id, &site.cs_number),
            || self.account_online(request, &site),
            |found| async move { self.account(&found).await },
        )
        .await
    }

    async fn account_inner(&self, id: &AccountId) -> Result<IspAccount> {
        super::common::numeric_id(PROVIDER, "account", id)?;
        let cs = id.as_str();
        let rows = self
            .get_data(entity::SITE_SYSTEM_OPTIONS, Some(cs), None)
            .await?;
        let options = Self::parse(wire::GET_DATA, wire::options(&rows))?;
        if options.is_empty() {
            return Err(Error::not_found(
                PROVIDER,
                "account",
                format!("no site system options for CS number {cs}"),
            )
            .in_vendor_call(wire::GET_DATA));
        }
        let option = |id: &str| options.iter().find(|(k, _)| k == id).map(|(_, v)| v.trim());
        if option(wire::OPT_CELL_PROVIDER) != Some(CELL_PROVIDER) {
            return Err(Error::not_found(
                PROVIDER,
                "account",
                format!(
                    "CS number {cs} has no Alarm.com interactive service (its cell provider is not {CELL_PROVIDER})"
                ),
            )
            .in_vendor_call(wire::GET_DATA));
        }
        let plan = option(wire::OPT_SERVICE_LEVEL)
            .filter(|l| !l.is_empty())
            .map(PlanId::new);
        let add_ons: BTreeSet<AddOn> = options
            .iter()
            .filter(|(_, v)| !wire::add_on_is_off(v))
            .filter_map(|(k, _)| wire::add_on_of(k))
            .map(|f| AddOn {
                feature: FeatureId::new(f),
                quantity: None,
            })
            .collect();
        let contacts = self.get_data(entity::CONTACTS, Some(cs), None).await?;
        let contact = wire::signer(&contacts)
            .map(|r| {
                let text = |c: &str| r.get(c).filter(|t| !t.trim().is_empty()).map(str::to_owned);
                Contact {
                    first_name: text("first_name").unwrap_or_default(),
                    last_name: text("last_name").unwrap_or_default(),
                    company: None,
                    email: text("email_address"),
                    phone: text("phone1"),
                }
            })
            .unwrap_or_default();
        // The dealer customer id is modelled: a service without it leaves it out.
        let dealer_customer_id = match self.get_data(entity::SITE_OPTIONS, Some(cs), None).await {
            Ok(rows) => wire::site_options(&rows)
                .into_iter()
                .find(|(k, v)| k == wire::OPT_DEALER_CUSTOMER && !v.is_empty())
                .map(|(_, v)| DealerCustomerId::new(v)),
            Err(Error::Unsupported { .. }) => None,
            Err(e) => return Err(e),
        };
        Ok(IspAccount {
            id: id.clone(),
            dealer_customer_id,
            contact,
            login_name: None,
            initial_password: None,
            status: if plan.is_some() {
                AccountStatus::Active
            } else {
                AccountStatus::Terminated
            },
            plan,
            add_ons,
            created_at: None,
        })
    }

    async fn change_plan_inner(&self, id: &AccountId, change: &PlanChange) -> Result<IspAccount> {
        super::common::numeric_id(PROVIDER, "change_plan", id)?;
        if change.validate_only {
            return Err(Error::unsupported_because(
                PROVIDER,
                "change_plan",
                "Brinks Home has no validation-only change",
            ));
        }
        let mut problems = ValidationErrors::new();
        add_on_problems(&change.add, "add", &mut problems);
        if let Some(plan) = &change.plan {
            if let Err(why) = (SPEC.check_plan_id)(plan.as_str()) {
                problems.push("plan", why);
            }
        }
        if !problems.is_empty() {
            return Err(Error::invalid_request(
                PROVIDER,
                "change_plan",
                problems.to_string(),
            ));
        }
        let current = self.account(id).await?;
        let plan = super::common::plan_for_change(PROVIDER, id, &current, change)?;
        let names = |set: &BTreeSet<AddOn>| -> BTreeSet<String> {
            set.iter().map(|a| a.feature.to_string()).collect()
        };
        let before = names(&current.add_ons);
        let after = names(&change.apply_to(&current.add_ons));
        let cs = id.as_str();
        if current.plan.as_ref() != Some(&plan) {
            self.update(
                cs,
                RequestType::Change,
                vec![wire::site_system_option(
                    wire::OPT_SERVICE_LEVEL,
                    plan.as_str(),
                )],
            )
            .await?;
        }
        let added: Vec<InnerNode> = after
            .difference(&before)
            .map(|f| wire::site_system_option(wire::add_on_option(f), ""))
            .collect();
        if !added.is_empty() {
            self.update(cs, RequestType::Add, added).await?;
        }
        let removed: Vec<InnerNode> = before
            .difference(&after)
            .map(|f| wire::site_system_option(wire::add_on_option(f), ""))
            .collect();
        if !removed.is_empty() {
            self.update(cs, RequestType::Delete, removed).await?;
        }
        self.account(id).await
    }

    async fn terminate_inner(&self, id: &AccountId) -> Result<()> {
        super::common::numeric_id(PROVIDER, "terminate", id)?;
        let current = self.account(id).await?;
        let Some(plan) = current.plan.as_ref() else {
            // No interactive service level any more: already terminated.
            return Ok(());
        };
        let mut options = vec![wire::site_system_option(
            wire::OPT_SERVICE_LEVEL,
            plan.as_str(),
        )];
        options.extend(
            current
                .add_ons
                .iter()
                .map(|a| wire::site_system_option(wire::add_on_option(a.feature.as_str()), "")),
        );
        self.update(id.as_str(), RequestType::Delete, options).await
    }

    async fn list_accounts_inner(&self, include_terminated: bool) -> Result<Vec<AccountId>> {
        let rows = self
            .get_data(
                entity::SITES,
                None,
                Some(wire::sites_query("cell_provider", CELL_PROVIDER)),
            )
            .await?;
        let sites = Self::parse(wire::GET_DATA, wire::sites(&rows))?;
        Ok(sites
            .into_iter()
            .filter(|s| include_terminated || !s.service_level.is_empty())
            .map(|s| AccountId::new(s.cs_number))
            .collect())
    }
}

super::common::vendor_provider!(
    BrinksHome,
    kind: KIND,
    capabilities: |_this| Capabilities {
            account_listing: true,
            ..Capabilities::NONE
        }
);
