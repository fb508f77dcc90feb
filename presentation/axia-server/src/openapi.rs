//! The OpenAPI description of the REST routes, built at compile time by utoipa (nothing is
//! downloaded at build time: no Swagger UI is bundled). Each documented route is declared once,
//! in [`documented`]: its path, method and description come from its handler's
//! `#[utoipa::path]`, for the router and this document alike.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Api;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "axia",
        description = "OHLCV bars for FX pairs and stocks through axia's data provider. Times are UNIX seconds (UTC), the open time of a bar. Errors are RFC 9457 problem details."
    ),
    components(schemas(
        crate::bars::PageBody,
        crate::bars::ColumnsBody,
        crate::bars::BarsBody,
        crate::bars::BarDto,
        crate::bars::BarColumns,
        crate::bars::InstrumentDto,
        crate::bars::ProvenanceDto,
        crate::bars::AttemptDto,
        crate::bars::GapDto,
        crate::pages::Symbols,
        crate::pages::SymbolEntry,
        crate::pages::StoredSeries,
        crate::pages::Features,
        crate::alerts::Alerts,
        crate::alerts::AlertDto,
        crate::pages::Health,
        crate::pages::RedisHealth,
        crate::problem::Problem,
    )),
    tags(
        (name = "bars", description = "Bars through the data provider"),
        (name = "features", description = "Indicator values from the feature store"),
        (name = "alerts", description = "Alerts the feature engine's rules fired"),
        (name = "health", description = "Liveness and dependencies"),
    )
)]
struct ApiDoc;

/// Every documented route, each once: the router and the OpenAPI document's paths.
pub(crate) fn documented() -> OpenApiRouter<Api> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(crate::bars::bars))
        .routes(routes!(crate::bars::market_data))
        .routes(routes!(crate::pages::features))
        .routes(routes!(crate::alerts::alerts))
        .routes(routes!(crate::pages::symbols))
        .routes(routes!(crate::pages::health))
        .routes(routes!(crate::pages::health_redis))
}

/// The OpenAPI 3.1 document `GET /openapi.json` serves.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    static DOCUMENT: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| documented().into_openapi()).clone()
}
