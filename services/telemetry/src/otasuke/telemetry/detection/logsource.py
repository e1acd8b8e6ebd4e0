"""Which events a rule's `logsource` refers to.

Sysmon categories map to their EventIDs exactly as pySigma's sysmon pipeline does (the
table is imported from it, not copied). Windows services map to the event log channel
they name, as pySigma's windows pipeline does; PowerShell categories to their channel and
EventID. A log source we do not know is not restricted (the rule's own conditions decide).
"""
from __future__ import annotations

from dataclasses import dataclass

from sigma.pipelines.sysmon.sysmon import sysmon_generic_logsource_eventid_mapping

SYSMON_CHANNEL = "microsoft-windows-sysmon/operational"

# service → event log channel(s), lower-cased (channels are compared case-insensitively:
# exported logs spell "Security" and "security" alike).
SERVICE_CHANNELS: dict[str, tuple[str, ...]] = {
    "security": ("security",),
    "system": ("system",),
    "application": ("application",),
    "sysmon": (SYSMON_CHANNEL,),
    "powershell": ("microsoft-windows-powershell/operational",),
    "powershell-classic": ("windows powershell",),
    "taskscheduler": ("microsoft-windows-taskscheduler/operational",),
    "wmi": ("microsoft-windows-wmi-activity/operational",),
    "windefend": ("microsoft-windows-windows defender/operational",),
    "firewall-as": ("microsoft-windows-windows firewall with advanced security/firewall",),
    "bits-client": ("microsoft-windows-bits-client/operational",),
    "codeintegrity-operational": ("microsoft-windows-codeintegrity/operational",),
    "dns-client": ("microsoft-windows-dns client events/operational",),
    "dns-server": ("dns server",),
    "ntlm": ("microsoft-windows-ntlm/operational",),
    "terminalservices-localsessionmanager": ("microsoft-windows-terminalservices-localsessionmanager/operational",),
    "applocker": (
        "microsoft-windows-applocker/msi and script",
        "microsoft-windows-applocker/exe and dll",
        "microsoft-windows-applocker/packaged app-deployment",
        "microsoft-windows-applocker/packaged app-execution",
    ),
    "appxdeployment-server": ("microsoft-windows-appxdeploymentserver/operational",),
    "appxpackaging-om": ("microsoft-windows-appxpackagingom/operational",),
    "appmodel-runtime": ("microsoft-windows-appmodel-runtime/admin",),
    "capi2": ("microsoft-windows-capi2/operational",),
    "certificateservicesclient-lifecycle-system": ("microsoft-windows-certificateservicesclient-lifecycle-system/operational",),
    "diagnosis-scripted": ("microsoft-windows-diagnosis-scripted/operational",),
    "driver-framework": ("microsoft-windows-driverframeworks-usermode/operational",),
    "ldap": ("microsoft-windows-ldap-client/debug",),
    "lsa-server": ("microsoft-windows-lsa/operational",),
    "msexchange-management": ("msexchange management",),
    "openssh": ("openssh/operational",),
    "security-mitigations": ("microsoft-windows-security-mitigations/kernel mode", "microsoft-windows-security-mitigations/user mode"),
    "shell-core": ("microsoft-windows-shell-core/operational",),
    "smbclient-security": ("microsoft-windows-smbclient/security",),
    "smbserver-connectivity": ("microsoft-windows-smbserver/connectivity",),
    "iis-configuration": ("microsoft-iis-configuration/operational",),
}

# PowerShell categories (pySigma windows pipeline): channel and EventID.
CATEGORY_EVENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ps_module": (("microsoft-windows-powershell/operational",), ("4103",)),
    "ps_script": (("microsoft-windows-powershell/operational",), ("4104",)),
    "ps_classic_start": (("windows powershell",), ("400",)),
    "ps_classic_provider_start": (("windows powershell",), ("600",)),
    "ps_classic_script": (("windows powershell",), ("800",)),
}


@dataclass(frozen=True, slots=True)
class LogsourceFilter:
    """Events a rule applies to: channel ∈ channels and EventID ∈ event_ids (None: any)."""

    channels: frozenset[str] | None = None
    event_ids: frozenset[str] | None = None

    @property
    def unrestricted(self) -> bool:
        return self.channels is None and self.event_ids is None


def logsource_filter(product: str | None, category: str | None, service: str | None) -> LogsourceFilter:
    product = (product or "").lower()
    category = (category or "").lower()
    service = (service or "").lower()
    channels: set[str] | None = None
    event_ids: set[str] | None = None
    if product in ("windows", ""):
        if category in sysmon_generic_logsource_eventid_mapping and product == "windows":
            ids = sysmon_generic_logsource_eventid_mapping[category]
            event_ids = {str(i) for i in (ids if isinstance(ids, list) else [ids])}
            channels = {SYSMON_CHANNEL}
        elif category in CATEGORY_EVENTS:
            ch, ids = CATEGORY_EVENTS[category]
            channels, event_ids = set(ch), set(ids)
        if service in SERVICE_CHANNELS:
            svc = set(SERVICE_CHANNELS[service])
            channels = svc if channels is None else (channels & svc)
    return LogsourceFilter(
        frozenset(channels) if channels is not None else None,
        frozenset(event_ids) if event_ids is not None else None,
    )
