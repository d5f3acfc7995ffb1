# harden Windows collector (Windows PowerShell 5.1).
# Read-only: it changes nothing on the host. ASCII only. No Add-Type, no New-Object, no .NET
# method calls, so it runs unchanged under Constrained Language Mode. Every probe is wrapped in
# try/catch: a failure becomes an "<name>_error" field, never a missing area. Output: ONE JSON
# object on stdout (ConvertTo-Json -Depth 6 -Compress; enums cast to [string]; lists in @()).
# The object ends with "done": true; an output without it was cut short.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'

function Get-HardenError($record) {
    $m = [string]$record.Exception.Message
    if (-not $m) { $m = [string]$record }
    $m -replace '\s+', ' '
}

function Get-HardenKey($path) {
    # A registry key's values as strings, or $null when the key does not exist.
    if (-not (Test-Path -LiteralPath $path)) { return $null }
    $values = @{}
    foreach ($name in @((Get-Item -LiteralPath $path).Property)) {
        $values[[string]$name] = [string](Get-ItemPropertyValue -LiteralPath $path -Name $name)
    }
    $values
}

function Invoke-HardenNative($exe, $arguments) {
    # Run a program; stdout as text and the exit code (stderr dropped, never fatal).
    $ErrorActionPreference = 'Continue'
    $text = (& $exe @arguments 2>$null) | Out-String
    @{ text = $text; rc = $LASTEXITCODE }
}

$out = @{ harden_collector = 'windows'; schema = 1 }

# --- meta -------------------------------------------------------------------------------
$meta = @{}
try { $meta.ps_version = [string]$PSVersionTable.PSVersion } catch { $meta.ps_version_error = Get-HardenError $_ }
try { $meta.language_mode = [string]$ExecutionContext.SessionState.LanguageMode } catch { $meta.language_mode_error = Get-HardenError $_ }
try { $meta.hostname = [string]$env:COMPUTERNAME } catch { }
try {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    $meta.os_caption = [string]$os.Caption
    $meta.os_version = [string]$os.Version
    $meta.os_build = [string]$os.BuildNumber
    $meta.product_type = [int]$os.ProductType
} catch { $meta.os_error = Get-HardenError $_ }
try {
    $meta.user = [string](whoami.exe)
    $groups = @(whoami.exe /groups)
    $meta.is_admin = [bool](@($groups -match 'S-1-16-12288').Count -gt 0)
} catch { $meta.is_admin_error = Get-HardenError $_ }
$out.meta = $meta

# --- firewall (ActiveStore: the policy in force, local and GPO merged) ----------------
$fw = @{}
try {
    $fw.profiles = @(Get-NetFirewallProfile -PolicyStore ActiveStore | ForEach-Object {
        @{
            name = [string]$_.Name
            enabled = [string]$_.Enabled
            default_outbound = [string]$_.DefaultOutboundAction
            default_inbound = [string]$_.DefaultInboundAction
        }
    })
} catch { $fw.profiles_error = Get-HardenError $_ }
try {
    $apps = @{}
    foreach ($f in @(Get-NetFirewallApplicationFilter -PolicyStore ActiveStore)) { $apps[[string]$f.InstanceID] = $f }
    $svcs = @{}
    foreach ($f in @(Get-NetFirewallServiceFilter -PolicyStore ActiveStore)) { $svcs[[string]$f.InstanceID] = $f }
    $addrs = @{}
    foreach ($f in @(Get-NetFirewallAddressFilter -PolicyStore ActiveStore)) { $addrs[[string]$f.InstanceID] = $f }
    $ports = @{}
    foreach ($f in @(Get-NetFirewallPortFilter -PolicyStore ActiveStore)) { $ports[[string]$f.InstanceID] = $f }
    $rules = @(Get-NetFirewallRule -PolicyStore ActiveStore -Direction Outbound -Enabled True)
    $fw.outbound_rules = @(foreach ($r in $rules) {
        $id = [string]$r.InstanceID
        $a = $apps[$id]; $s = $svcs[$id]; $ad = $addrs[$id]; $p = $ports[$id]
        @{
            name = [string]$r.Name
            display_name = [string]$r.DisplayName
            group = [string]$r.DisplayGroup
            action = [string]$r.Action
            direction = [string]$r.Direction
            enabled = [string]$r.Enabled
            profile = [string]$r.Profile
            source = [string]$r.PolicyStoreSourceType
            program = $(if ($a) { [string]$a.Program } else { $null })
            package = $(if ($a) { [string]$a.Package } else { $null })
            service = $(if ($s) { [string]$s.Service } else { $null })
            protocol = $(if ($p) { [string]$p.Protocol } else { $null })
            remote_port = @($(if ($p) { foreach ($x in @($p.RemotePort)) { [string]$x } }))
            remote_address = @($(if ($ad) { foreach ($x in @($ad.RemoteAddress)) { [string]$x } }))
        }
    })
} catch { $fw.rules_error = Get-HardenError $_ }
$out.firewall = $fw

# --- DNS client query log -----------------------------------------------------------------
$dns = @{}
try {
    $log = Get-WinEvent -ListLog 'Microsoft-Windows-DNS-Client/Operational'
    $dns.log_name = [string]$log.LogName
    $dns.is_enabled = [bool]$log.IsEnabled
    $dns.log_mode = [string]$log.LogMode
    $dns.max_size_bytes = [int64]$log.MaximumSizeInBytes
    $dns.record_count = $(if ($null -ne $log.RecordCount) { [int64]$log.RecordCount } else { $null })
} catch { $dns.error = Get-HardenError $_ }
$out.dns_client = $dns

# --- Sysmon -----------------------------------------------------------------------------------
$sm = @{}
try {
    $sm.services = @(Get-CimInstance -ClassName Win32_Service | Where-Object {
        $_.Name -like 'Sysmon*' -or $_.Description -eq 'System Monitor service'
    } | ForEach-Object {
        @{ name = [string]$_.Name; state = [string]$_.State; start_mode = [string]$_.StartMode;
           path = [string]$_.PathName; description = [string]$_.Description }
    })
} catch { $sm.services_error = Get-HardenError $_ }
try {
    $sm.drivers = @(Get-CimInstance -ClassName Win32_SystemDriver | Where-Object {
        $_.Name -like 'SysmonDrv*' -or $_.Description -eq 'System Monitor driver'
    } | ForEach-Object {
        @{ name = [string]$_.Name; state = [string]$_.State; start_mode = [string]$_.StartMode;
           path = [string]$_.PathName; description = [string]$_.Description }
    })
} catch { $sm.drivers_error = Get-HardenError $_ }
try {
    $svc = @($sm.services | Where-Object { $_.state -eq 'Running' }) + @($sm.services) | Select-Object -First 1
    if ($svc) {
        $exe = $svc.path -replace '^\s*"([^"]+)".*$', '$1'
        $exe = $exe -replace '^\s*(\S+\.exe)\b.*$', '$1'
        $sm.config_command = $exe + ' -c'
        $res = Invoke-HardenNative $exe @('-c')
        $sm.config_text = $res.text
        $sm.config_rc = $res.rc
    }
} catch { $sm.config_error = Get-HardenError $_ }
try {
    $since = (Get-Date) - (New-TimeSpan -Days 7)
    $ev = @(Get-WinEvent -FilterHashtable @{ LogName = 'Microsoft-Windows-Sysmon/Operational'; Id = 3; StartTime = $since } -MaxEvents 1 -ErrorAction SilentlyContinue)
    $sm.network_events_7d = $ev.Count
    if ($ev.Count -gt 0) { $sm.last_network_event = [string]$ev[0].TimeCreated }
} catch { $sm.events_error = Get-HardenError $_ }
$out.sysmon = $sm

# --- PowerShell -----------------------------------------------------------------------------
$ps = @{}
try { $ps.language_mode = [string]$ExecutionContext.SessionState.LanguageMode } catch { $ps.language_mode_error = Get-HardenError $_ }
try {
    $envKey = Get-HardenKey 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\Environment'
    $ps.lockdown_policy_machine = $(if ($envKey) { $envKey['__PSLockdownPolicy'] } else { $null })
    $ps.lockdown_policy_session = [string]$env:__PSLockdownPolicy
} catch { $ps.lockdown_error = Get-HardenError $_ }
try {
    $base = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\PowerShell'
    $ps.script_block_logging = Get-HardenKey "$base\ScriptBlockLogging"
    $ps.module_logging = Get-HardenKey "$base\ModuleLogging"
    $ps.module_names = Get-HardenKey "$base\ModuleLogging\ModuleNames"
    $ps.transcription = Get-HardenKey "$base\Transcription"
    $core = 'HKLM:\SOFTWARE\Policies\Microsoft\PowerShellCore'
    $ps.core_script_block_logging = Get-HardenKey "$core\ScriptBlockLogging"
    $ps.core_module_logging = Get-HardenKey "$core\ModuleLogging"
} catch { $ps.policy_error = Get-HardenError $_ }
try {
    $ps.v2_features = @(foreach ($n in @('MicrosoftWindowsPowerShellV2Root', 'MicrosoftWindowsPowerShellV2')) {
        $f = Get-WindowsOptionalFeature -Online -FeatureName $n
        if ($f) { @{ name = [string]$f.FeatureName; state = [string]$f.State } }
    })
} catch { $ps.v2_error = Get-HardenError $_ }
try {
    $ps.pwsh = @(foreach ($d in @("$env:ProgramFiles\PowerShell")) {
        if (Test-Path -LiteralPath $d) {
            Get-ChildItem -LiteralPath $d -Filter pwsh.exe -Recurse -Depth 1 -File -ErrorAction SilentlyContinue |
                ForEach-Object { [string]$_.FullName }
        }
    })
} catch { $ps.pwsh_error = Get-HardenError $_ }
$out.powershell = $ps

# --- application control (AppLocker, WDAC) ---------------------------------------------
$ac = @{}
try { $ac.applocker_xml = [string](Get-AppLockerPolicy -Effective -Xml) } catch { $ac.applocker_error = Get-HardenError $_ }
try {
    $s = Get-Service -Name AppIDSvc
    $ac.appidsvc = @{ status = [string]$s.Status; start_type = [string]$s.StartType }
} catch { $ac.appidsvc_error = Get-HardenError $_ }
try {
    $dg = Get-CimInstance -Namespace 'root\Microsoft\Windows\DeviceGuard' -ClassName Win32_DeviceGuard
    $ac.device_guard = @{
        code_integrity = [int]$dg.CodeIntegrityPolicyEnforcementStatus
        usermode_code_integrity = [int]$dg.UsermodeCodeIntegrityPolicyEnforcementStatus
        vbs = [int]$dg.VirtualizationBasedSecurityStatus
        services_running = @(foreach ($x in @($dg.SecurityServicesRunning)) { [int]$x })
    }
} catch { $ac.device_guard_error = Get-HardenError $_ }
$out.appcontrol = $ac

# --- netcat-likes ---------------------------------------------------------------------------
$bin = @{}
try {
    $names = @('nc.exe', 'nc64.exe', 'ncat.exe', 'netcat.exe', 'socat.exe')
    $places = @()
    foreach ($d in @($env:Path -split ';')) { if ($d) { $places += @{ path = $d; depth = 0 } } }
    $places += @{ path = "$env:SystemDrive\"; depth = 0 }
    $places += @{ path = "$env:SystemDrive\Users"; depth = 4 }
    $places += @{ path = "$env:SystemDrive\ProgramData"; depth = 3 }
    $places += @{ path = "$env:SystemRoot\Temp"; depth = 3 }
    $places += @{ path = "$env:SystemDrive\Temp"; depth = 3 }
    $places += @{ path = "$env:SystemDrive\Tools"; depth = 3 }
    $places += @{ path = "$env:ProgramFiles"; depth = 2 }
    $places += @{ path = "${env:ProgramFiles(x86)}"; depth = 2 }
    $seen = @{}
    $found = @()
    $denied = 0
    $searched = @()
    foreach ($pl in $places) {
        if (-not $pl.path -or -not (Test-Path -LiteralPath $pl.path)) { continue }
        $searched += $pl.path
        $errs = $null
        $items = @(Get-ChildItem -LiteralPath $pl.path -Recurse -Depth $pl.depth -File -Force -Include $names -ErrorAction SilentlyContinue -ErrorVariable errs)
        $denied += @($errs).Count
        foreach ($i in $items) {
            $full = [string]$i.FullName
            if ($seen[$full] -or $found.Count -ge 50) { continue }
            $seen[$full] = $true
            $entry = @{ path = $full; name = [string]$i.Name; size = [int64]$i.Length }
            try { $entry.sha256 = [string](Get-FileHash -LiteralPath $full -Algorithm SHA256).Hash } catch { $entry.sha256_error = Get-HardenError $_ }
            try {
                $sig = Get-AuthenticodeSignature -LiteralPath $full
                $entry.signature = [string]$sig.Status
                $entry.signer = $(if ($sig.SignerCertificate) { [string]$sig.SignerCertificate.Subject } else { $null })
            } catch { $entry.signature_error = Get-HardenError $_ }
            try { $entry.product = [string]$i.VersionInfo.ProductName } catch { }
            $found += $entry
        }
    }
    $bin.found = @($found)
    $bin.searched = @($searched)
    $bin.access_denied = $denied
} catch { $bin.error = Get-HardenError $_ }
$out.binaries = $bin

$out.done = $true
ConvertTo-Json -InputObject $out -Depth 6 -Compress
