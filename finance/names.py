"""Names printed on statements, in the statement's language: modules, platform components, fixed costs.

The catalogue (``catalogue/modules``, ``catalogue.labels.PLATFORM_MODULES``) names things in English for the
docs; a German statement is German throughout, so every module and platform component has a name in both
languages here (``tests/test_costs_outputs.py`` holds every catalogue entry to it). Fixed costs carry ``name``
(German) and ``nameEn`` in the price catalogue. Names from a provider's bill (``Amazon Elastic Compute Cloud``)
are product names and stay as they are.
"""

from __future__ import annotations

from finance.sources.estimate import service_name as catalogue_service

NAMES: dict[str, tuple[str, str]] = {
    # bookable modules: (de, en)
    "dashboards": ("Datenvisualisierung (Apache Superset)", "Data visualisation (Apache Superset)"),
    "lowcode": ("Low-Code-Werkzeuge (Node-RED)", "Low-code tools (Node-RED)"),
    "opendata": ("Open-Data-Portal (CKAN, DCAT-AP.de)", "Open data portal (CKAN, DCAT-AP.de)"),
    "urbandata": ("Urbane Datenplattform (FROST-Server, OGC SensorThings API)",
                  "Urban data platform (FROST-Server, OGC SensorThings API)"),
    "masterportal": ("Geoportal (Masterportal)", "Geoportal (Masterportal)"),
    "rei3": ("Fachanwendungen (REI3)", "Business applications (REI3)"),
    # platform components
    "operators": ("Kubernetes-Operatoren (Datenbank, Identität, Zertifikate, Speicher)",
                  "Kubernetes operators (database, identity, certificates, storage)"),
    "identity": ("Anmeldedienst (Keycloak) und Bereiche der Kommunen", "Sign-in service (Keycloak) and the municipalities' realms"),
    "gateway": ("Zugangsknoten (Gateway) und TLS-Zertifikate", "Gateway and TLS certificates"),
    "certificates": ("Zertifikatsverwaltung", "Certificate management"),
    "monitoring": ("Überwachung und Kostenmessung", "Monitoring and cost metering"),
    "storage": ("Objektspeicher", "Object storage"),
    "platform": ("Plattformgrundlagen (Namensräume, Prioritäten, Netzregeln)",
                 "Platform baseline (namespaces, priorities, network rules)"),
    "tenancy": ("Namensraum, Kontingent und Zugriffsrechte der Kommune", "The municipality's namespace, quota and access rights"),
    "database": ("Datenbank (PostgreSQL mit PostGIS)", "Database (PostgreSQL with PostGIS)"),
}


def module_name(module: str | None, lang: str) -> str | None:
    """A module's or platform component's name in ``lang``; None when ``module`` is None; unknown values as given."""
    if module is None:
        return None
    names = NAMES.get(module)
    return names[0 if lang == "de" else 1] if names else module


def service_name(service: str, module: str | None, lang: str, fixed: dict[str, str] | None = None) -> str:
    """The service of a line in ``lang``: the estimate's module and component services by their names here,
    fixed costs by the catalogue's ``nameEn`` (``fixed``: German name -> English name), anything else as given."""
    if module in NAMES and service == catalogue_service(module):
        return module_name(module, lang)
    if lang == "en" and fixed and service in fixed:
        return fixed[service]
    return service
