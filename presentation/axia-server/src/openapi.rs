//! The OpenAPI description of the REST routes, built at compile time by utoipa (nothing is
//! downloaded at build time: no Swagger UI is bundled).

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "axia",
        description = "OHLCV bars for FX pairs and stocks through axia's data provider. Times are UNIX seconds (UTC), the open time of a bar. Errors are RFC 9457 problem details."
    ),
    paths(
        crate::bars::bars,
        crate::bars::market_data,
        crate::pages::symbols,
        crate::pages::features,
        crate::pages::health,
        crate::pages::health_redis,
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
        crate::pages::Health,
        crate::pages::RedisHealth,
        crate::problem::Problem,
    )),
    tags(
        (name = "bars", description = "Bars through the data provider"),
        (name = "features", description = "Indicator values from the feature store"),
        (name = "health", description = "Liveness and dependencies"),
    )
)]
struct ApiDoc;

/// The OpenAPI 3.1 document `GET /openapi.json` serves.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
