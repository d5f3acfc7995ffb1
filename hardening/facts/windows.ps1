# harden Windows collector (Windows PowerShell 5.1).
# Read-only: it changes nothing on the host (no -accepteula, no temporary files). ASCII only. No
# Add-Type, no New-Object, no .NET method calls, so it runs unchanged under Constrained Language
# Mode. Every probe is wrapped in try/catch: a failure becomes an "<name>_error" field, never a
# missing area. Output: ONE JSON line per area as soon as the area is done (ConvertTo-Json -Depth 6
# -Compress; enums cast to [string]; lists in @()), fast areas first, then a last line with
# "done": true. A host cut short (harden's --timeout) still has its finished areas judged; every
# slow area (DISM, sysmon -c, the file search, Authenticode) is bounded in time on the host.
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

function Write-HardenArea($name, $value) {
    # One area, one line: what is printed is judged even if a later area overruns.
    $out = @{ harden_collector = 'windows'; schema = 2 }
    $out[$name] = $value
    ConvertTo-Json -InputObject $out -Depth 6 -Compress
}

function Invoke-HardenBounded($seconds, $block, $arguments) {
    # Run a script block in a background job for at most $seconds: @{ output = ...; timed_out = bool;
    # bounded = bool }. Where jobs are refused (a session whose language mode differs from the
    # system's), the block runs inline, unbounded (bounded = $false).
    $job = $null
    try { $job = Start-Job -ScriptBlock $block -ArgumentList $arguments }
    catch { return @{ output = @(& $block @arguments); timed_out = $false; bounded = $false } }
    try {
        if (Wait-Job -Job $job -Timeout $seconds) {
            return @{ output = @(Receive-Job -Job $job -ErrorAction SilentlyContinue); timed_out = $false; bounded = $true }
        }
        return @{ output = @(); timed_out = $true; bounded = $true }
    } finally {
        Stop-Job -Job $job -ErrorAction SilentlyContinue
        Remove-Job -Job $job -Force -ErrorAction SilentlyContinue
    }
}

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
Write-HardenArea 'meta' $meta

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
function Get-HardenFilters($cmdlet) {
    # InstanceID -> filter; an InstanceID present twice (a GPO and a local rule of the same ID in
    # the ActiveStore) maps to $null: those rules are joined by association instead.
    $map = @{}
    $twice = @{}
    foreach ($f in @(& $cmdlet -PolicyStore ActiveStore)) {
        $id = [string]$f.InstanceID
        if ($null -ne $map[$id]) { $twice[$id] = $true }
        $map[$id] = $f
    }
    foreach ($id in @($twice.Keys)) { $map[$id] = $null }
    $map
}
function Get-HardenFilter($map, $cmdlet, $rule) {
    $hit = $map[[string]$rule.InstanceID]
    if ($null -ne $hit) { return $hit }
    # Not in the map, or ambiguous: ask for the filter of this very rule object (its own store).
    $rule | & $cmdlet
}
try {
    $apps = Get-HardenFilters 'Get-NetFirewallApplicationFilter'
    $svcs = Get-HardenFilters 'Get-NetFirewallServiceFilter'
    $addrs = Get-HardenFilters 'Get-NetFirewallAddressFilter'
    $ports = Get-HardenFilters 'Get-NetFirewallPortFilter'
    # No -Direction/-Enabled parameters: with them, no matching rule is an error (ObjectNotFound).
    $rules = @(Get-NetFirewallRule -PolicyStore ActiveStore | Where-Object {
        [string]$_.Direction -eq 'Outbound' -and [string]$_.Enabled -eq 'True'
    })
    $fw.outbound_rules = @(foreach ($r in $rules) {
        $a = Get-HardenFilter $apps 'Get-NetFirewallApplicationFilter' $r
        $s = Get-HardenFilter $svcs 'Get-NetFirewallServiceFilter' $r
        $ad = Get-HardenFilter $addrs 'Get-NetFirewallAddressFilter' $r
        $p = Get-HardenFilter $ports 'Get-NetFirewallPortFilter' $r
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
Write-HardenArea 'firewall' $fw

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
Write-HardenArea 'dns_client' $dns

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
# The language mode this very session got: under WinRS, powershell.exe is an ordinary process and
# gets the system's lockdown (WDAC/AppLocker), not a PowerShell session configuration's.
try { $ac.session_language_mode = [string]$ExecutionContext.SessionState.LanguageMode } catch { }
# A PowerShell remoting session (PSRP) has $PSSenderInfo; there the language mode may be the
# endpoint's (LanguageMode in its session configuration), not the system's lockdown.
try { $ac.remoting_session = [bool]($null -ne $PSSenderInfo) } catch { }
Write-HardenArea 'appcontrol' $ac

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
# PowerShell 2.0: one query per name (an unknown name must not hide the others; the names differ
# between client and Server), each in a job bounded to 60 s (DISM can take minutes).
$v2 = Invoke-HardenBounded 60 {
    param($isServer)
    foreach ($n in @('MicrosoftWindowsPowerShellV2Root', 'MicrosoftWindowsPowerShellV2')) {
        try {
            $f = Get-WindowsOptionalFeature -Online -FeatureName $n -ErrorAction Stop
            if ($f) { @{ name = [string]$f.FeatureName; state = [string]$f.State; source = 'optional' } }
            else { @{ name = $n; state = ''; source = 'optional'; error = 'no such optional feature'; unknown = $true } }
        } catch {
            # HResult 0x800F080C: DISM's "Feature name ... is unknown" (the name does not exist on this build).
            @{ name = $n; source = 'optional'; error = ([string]$_.Exception.Message -replace '\s+', ' ');
               error_id = [string]$_.FullyQualifiedErrorId; hresult = ('0x{0:X8}' -f $_.Exception.HResult) }
        }
    }
    if ($isServer) {
        try {
            $w = Get-WindowsFeature -Name 'PowerShell-V2' -ErrorAction Stop
            if ($w) { @{ name = 'PowerShell-V2'; state = [string]$w.InstallState; source = 'server' } }
        } catch {
            @{ name = 'PowerShell-V2'; source = 'server'; error = ([string]$_.Exception.Message -replace '\s+', ' ');
               error_id = [string]$_.FullyQualifiedErrorId }
        }
    }
} @([bool]($meta.product_type -gt 1))
$ps.v2_features = @($v2.output | Where-Object { $_ -is [hashtable] })
if (-not $v2.bounded) { $ps.v2_unbounded = 'background jobs refused: the PowerShell 2.0 queries ran without a time bound' }
if ($v2.timed_out) { $ps.v2_error = 'Get-WindowsOptionalFeature did not answer within 60 s' }
try {
    $ps.pwsh = @(foreach ($d in @("$env:ProgramFiles\PowerShell")) {
        if (Test-Path -LiteralPath $d) {
            foreach ($sub in @(Get-ChildItem -LiteralPath $d -Directory -ErrorAction SilentlyContinue)) {
                $exe = Join-Path $sub.FullName 'pwsh.exe'
                if (Test-Path -LiteralPath $exe) { $exe }
            }
        }
    })
} catch { $ps.pwsh_error = Get-HardenError $_ }
Write-HardenArea 'powershell' $ps

# --- Sysmon -----------------------------------------------------------------------------------
$sm = @{}
try {
    $sm.services = @(Get-CimInstance -ClassName Win32_Service | Where-Object {
        # Sysmon's documented service names, or the description it registers (a renamed install keeps it).
        $_.Name -in @('Sysmon', 'Sysmon64') -or $_.Description -eq 'System Monitor service'
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
    # The driver's registry parameters: scalar values as text; the compiled Rules blob by size only
    # (its binary layout is undocumented and changes between Sysmon versions).
    $drv = @($sm.drivers | Select-Object -First 1)
    if ($drv) {
        $key = "HKLM:\SYSTEM\CurrentControlSet\Services\$($drv[0].name)\Parameters"
        if (Test-Path -LiteralPath $key) {
            $params = @{}
            foreach ($n in @((Get-Item -LiteralPath $key).Property)) {
                $v = Get-ItemPropertyValue -LiteralPath $key -Name $n
                if ($v -is [byte[]]) { $params[[string]$n] = 'binary:' + [string]@($v).Count } else { $params[[string]$n] = [string]$v }
            }
            $sm.driver_parameters = $params
        }
    }
} catch { $sm.driver_parameters_error = Get-HardenError $_ }
try {
    # The last configuration change Sysmon logged (event 16: UtcTime, Configuration, ConfigurationFileHash).
    $e16 = @(Get-WinEvent -FilterHashtable @{ LogName = 'Microsoft-Windows-Sysmon/Operational'; Id = 16 } -MaxEvents 1 -ErrorAction SilentlyContinue)
    if ($e16.Count -gt 0) {
        $sm.last_config_change = @{ time = [string]$e16[0].TimeCreated; configuration = [string]$e16[0].Properties[1].Value;
                                    hash = [string]$e16[0].Properties[2].Value }
    }
} catch { $sm.last_config_change_error = Get-HardenError $_ }
try {
    # `sysmon -c` prints the active rules, but only once the Sysinternals EULA was accepted in THIS
    # account's HKCU; otherwise it shows the EULA and waits. harden never accepts it (-accepteula
    # writes HKCU): without it the configuration is reported unknown.
    $eula = Get-HardenKey 'HKCU:\Software\Sysinternals\System Monitor'
    $sm.eula_accepted = [bool]($eula -and $eula['EulaAccepted'] -eq '1')
    $svc = @($sm.services | Where-Object { $_.state -eq 'Running' }) + @($sm.services) | Select-Object -First 1
    if ($svc) {
        $exe = $svc.path -replace '^\s*"([^"]+)".*$', '$1'
        $exe = $exe -replace '^\s*(\S+\.exe)\b.*$', '$1'
        $sm.config_command = $exe + ' -c'
        # Run only Sysmon itself: a program directly in %SystemRoot% (where Sysmon installs itself),
        # with a valid Authenticode signature by Microsoft. Anything else is reported, not run.
        $trusted = $false
        try {
            $parent = Split-Path -Path $exe -Parent
            $sig = Get-AuthenticodeSignature -LiteralPath $exe
            $trusted = ($parent -eq [string]$env:SystemRoot -and [string]$sig.Status -eq 'Valid' -and
                        [string]$sig.SignerCertificate.Subject -like '*O=Microsoft Corporation*')
            if (-not $trusted) {
                $sm.config_refused = "not run: $exe is not a Microsoft-signed program directly in $env:SystemRoot (signature " + [string]$sig.Status + ')'
            }
        } catch { $sm.config_refused = 'not run: its signature could not be read: ' + (Get-HardenError $_) }
        if ($sm.eula_accepted -and $trusted) {
            $res = Invoke-HardenBounded 30 {
                param($program)
                $ErrorActionPreference = 'Continue'
                $text = (& $program '-c' 2>$null) | Out-String
                @{ text = $text; rc = $LASTEXITCODE }
            } @($exe)
            $r = @($res.output | Where-Object { $_ -is [hashtable] }) | Select-Object -First 1
            if (-not $res.bounded) { $sm.config_unbounded = 'background jobs refused: sysmon -c ran without a time bound' }
            if ($res.timed_out) { $sm.config_error = 'sysmon -c did not finish within 30 s' }
            elseif ($r) { $sm.config_text = [string]$r.text; $sm.config_rc = $r.rc }
        }
    }
} catch { $sm.config_error = Get-HardenError $_ }
try {
    $since = (Get-Date) - (New-TimeSpan -Days 7)
    $ev = @(Get-WinEvent -FilterHashtable @{ LogName = 'Microsoft-Windows-Sysmon/Operational'; Id = 3; StartTime = $since } -MaxEvents 1 -ErrorAction SilentlyContinue)
    $sm.network_events_7d = $ev.Count
    if ($ev.Count -gt 0) { $sm.last_network_event = [string]$ev[0].TimeCreated }
} catch { $sm.events_error = Get-HardenError $_ }
Write-HardenArea 'sysmon' $sm

# --- sensors (Defender, EDR agents) ---------------------------------------------------------
# Get-MpComputerStatus (MSFT_MpComputerStatus): real-time, behaviour monitoring, tamper protection,
# running mode; and the services of the EDR agents harden knows (hardening/sensors.py).
$se = @{}
try {
    $mp = Get-MpComputerStatus
    $se.defender = @{
        am_service_enabled = [bool]$mp.AMServiceEnabled; antivirus_enabled = [bool]$mp.AntivirusEnabled
        real_time = [bool]$mp.RealTimeProtectionEnabled; behavior_monitor = [bool]$mp.BehaviorMonitorEnabled
        on_access = [bool]$mp.OnAccessProtectionEnabled; ioav = [bool]$mp.IoavProtectionEnabled
        tamper_protected = $(if ($null -ne $mp.IsTamperProtected) { [bool]$mp.IsTamperProtected } else { $null })
        running_mode = [string]$mp.AMRunningMode
    }
} catch { $se.defender_error = Get-HardenError $_ }
try {
    $known = @('WinDefend', 'Sense', 'Sysmon', 'Sysmon64', 'CSFalconService', 'SentinelAgent', 'WazuhSvc',
               'Elastic Agent', 'ElasticEndpoint', 'osqueryd')
    $se.services = @(Get-CimInstance -ClassName Win32_Service | Where-Object { $_.Name -in $known } | ForEach-Object {
        @{ name = [string]$_.Name; state = [string]$_.State; start_mode = [string]$_.StartMode; path = [string]$_.PathName }
    })
} catch { $se.services_error = Get-HardenError $_ }
Write-HardenArea 'sensors' $se

# --- log forwarding (Windows Event Forwarding, agents) ---------------------------------------
# The WEF client policy (SubscriptionManager), its service (WinRM) and the forwarding plugin's
# own log; the Sysmon and PowerShell channels and who may read them (WEF reads as NETWORK
# SERVICE); the services and configuration files of log agents.
$lf = @{}
try {
    $lf.subscription_manager = Get-HardenKey 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\EventLog\EventForwarding\SubscriptionManager'
} catch { $lf.policy_error = Get-HardenError $_ }
try {
    $known = @('WinRM', 'Wecsvc', 'SplunkForwarder', 'winlogbeat', 'nxlog', 'WazuhSvc', 'Elastic Agent', 'AzureMonitorAgent')
    $lf.services = @(Get-CimInstance -ClassName Win32_Service | Where-Object { $_.Name -in $known } | ForEach-Object {
        @{ name = [string]$_.Name; state = [string]$_.State; start_mode = [string]$_.StartMode; path = [string]$_.PathName }
    })
} catch { $lf.services_error = Get-HardenError $_ }
$lf.channels = @(foreach ($c in @('Microsoft-Windows-Sysmon/Operational', 'Microsoft-Windows-PowerShell/Operational')) {
    try {
        $l = Get-WinEvent -ListLog $c
        @{ name = $c; is_enabled = [bool]$l.IsEnabled; sddl = [string]$l.SecurityDescriptor }
    } catch { @{ name = $c; error = Get-HardenError $_ } }
})
try {
    $lf.event_log_readers = @(Get-LocalGroupMember -SID 'S-1-5-32-573' | ForEach-Object { [string]$_.SID })
} catch { $lf.event_log_readers_error = Get-HardenError $_ }
try {
    $lf.plugin_events = @(Get-WinEvent -LogName 'Microsoft-Windows-Forwarding/Operational' -MaxEvents 20 -ErrorAction SilentlyContinue | ForEach-Object {
        $m = [string]$_.Message -replace '\s+', ' '
        if ($m.Length -gt 300) { $m = -join $m[0..299] }
        @{ id = [int]$_.Id; time = [string]$_.TimeCreated; message = $m }
    })
} catch { $lf.plugin_events_error = Get-HardenError $_ }
try {
    $files = @("$env:ProgramFiles\SplunkUniversalForwarder\etc\system\local\inputs.conf",
               "$env:ProgramFiles\Winlogbeat\winlogbeat.yml", "$env:ProgramFiles\nxlog\conf\nxlog.conf",
               "${env:ProgramFiles(x86)}\ossec-agent\ossec.conf")
    $files += @(Get-ChildItem -Path "$env:ProgramFiles\SplunkUniversalForwarder\etc\apps\*\local\inputs.conf" -ErrorAction SilentlyContinue | ForEach-Object { $_.FullName })
    $lf.agent_configs = @(foreach ($f in $files | Select-Object -First 32) {
        if ($f -and (Test-Path -LiteralPath $f)) {
            $t = [string](Get-Content -LiteralPath $f -Raw -ErrorAction SilentlyContinue)
            if ($t.Length -gt 65536) { $t = -join $t[0..65535] }
            @{ path = [string]$f; text = $t }
        }
    })
} catch { $lf.agent_configs_error = Get-HardenError $_ }
try {
    # The subscription managers' host names, resolved by this host's resolver.
    $lf.resolved = @(foreach ($v in @($lf.subscription_manager.Values)) {
        if ([string]$v -match 'Server=[a-zA-Z]+://([^/:,\]\s]+)') {
            $h = $Matches[1]
            try {
                foreach ($r in @(Resolve-DnsName -Name $h -QuickTimeout -ErrorAction Stop | Where-Object { $_.IPAddress })) {
                    @{ name = [string]$h; address = [string]$r.IPAddress }
                }
            } catch { }
        }
    } | Select-Object -First 32)
} catch { $lf.resolve_error = Get-HardenError $_ }
Write-HardenArea 'forwarding' $lf

# --- listening services (least privilege) --------------------------------------------------
# Sockets listening for the network, the process and service behind each, the account each
# runs as; IIS application pools' identities (applicationHost.config).
$sv = @{}
try {
    $sv.tcp = @(Get-NetTCPConnection -State Listen -ErrorAction Stop | ForEach-Object {
        @{ address = [string]$_.LocalAddress; port = [int]$_.LocalPort; pid = [int]$_.OwningProcess }
    })
} catch { $sv.tcp_error = Get-HardenError $_ }
try {
    $sv.udp = @(Get-NetUDPEndpoint -ErrorAction Stop | ForEach-Object {
        @{ address = [string]$_.LocalAddress; port = [int]$_.LocalPort; pid = [int]$_.OwningProcess }
    })
} catch { $sv.udp_error = Get-HardenError $_ }
try {
    $sv.services = @(Get-CimInstance -ClassName Win32_Service | Where-Object { $_.ProcessId -gt 0 } | ForEach-Object {
        @{ name = [string]$_.Name; pid = [int]$_.ProcessId; start_name = [string]$_.StartName; path = [string]$_.PathName;
           state = [string]$_.State }
    })
} catch { $sv.services_error = Get-HardenError $_ }
try {
    $lp = @{}
    foreach ($x in @($sv.tcp) + @($sv.udp)) { if ($x -and $x.pid -gt 4) { $lp[[string]$x.pid] = $true } }
    $sv.processes = @(foreach ($p in @($lp.Keys | Select-Object -First 256)) {
        $w = Get-CimInstance -ClassName Win32_Process -Filter "ProcessId = $p"
        if ($w) {
            $owner = ''
            try {
                $o = Invoke-CimMethod -InputObject $w -MethodName GetOwner
                if ($o.ReturnValue -eq 0) { $owner = [string]$o.Domain + '\' + [string]$o.User }
            } catch { }
            @{ pid = [int]$w.ProcessId; name = [string]$w.Name; path = [string]$w.ExecutablePath; owner = $owner }
        }
    })
} catch { $sv.processes_error = Get-HardenError $_ }
try {
    $cfg = "$env:SystemRoot\System32\inetsrv\config\applicationHost.config"
    if (Test-Path -LiteralPath $cfg) {
        $t = [string](Get-Content -LiteralPath $cfg -Raw)
        if ($t.Length -gt 1048576) { $sv.iis_error = 'applicationHost.config is larger than 1 MiB: not read' } else { $sv.iis_config = $t }
    }
} catch { $sv.iis_error = Get-HardenError $_ }
Write-HardenArea 'listeners' $sv

# --- netcat-likes ---------------------------------------------------------------------------
# Walked folder by folder (-LiteralPath with -Recurse -Include ignores -Include on 5.1, and -Include
# ignores -Depth): names are compared here and again on the controller. Directory reparse points
# (the legacy junctions under C:\Users that deny listing to everyone) are never followed; files
# that are reparse points (OneDrive placeholders, deduplicated files, file symlinks) are names like
# any other. Each place has a depth; a folder asked for twice is walked to the deeper of the two.
# 90 s and 50000 folders at most: beyond that the search reports itself incomplete.
$bin = @{}
try {
    $names = @('nc.exe', 'nc64.exe', 'ncat.exe', 'netcat.exe', 'socat.exe')
    $deadline = (Get-Date) + (New-TimeSpan -Seconds 90)
    $roots = @()
    foreach ($d in @($env:Path -split ';')) { if ($d) { $roots += @{ path = $d; depth = 0 } } }
    # Places where an unprivileged account can write: the drive root (Authenticated Users may create
    # folders there), Users (and each profile's Temp deeper: %TEMP%\<sub>\, Explorer's Temp1_x.zip\),
    # ProgramData, the Temp folders, and the world-writable folders under Windows.
    $roots += @(@{ path = "$env:SystemDrive\"; depth = 2 }, @{ path = "$env:SystemDrive\Users"; depth = 4 },
                @{ path = "$env:SystemDrive\ProgramData"; depth = 3 }, @{ path = "$env:SystemRoot\Temp"; depth = 3 },
                @{ path = "$env:SystemDrive\Temp"; depth = 3 }, @{ path = "$env:SystemDrive\Tools"; depth = 3 },
                @{ path = "$env:ProgramFiles"; depth = 2 }, @{ path = "${env:ProgramFiles(x86)}"; depth = 2 })
    foreach ($w in @('Tasks', 'Tracing', 'System32\spool\drivers\color', 'System32\Tasks', 'System32\FxsTmp',
                     'System32\com\dmp', 'System32\Microsoft\Crypto\RSA\MachineKeys', 'Registration\CRMLog',
                     'SysWOW64\Tasks', 'SysWOW64\FxsTmp', 'SysWOW64\com\dmp')) {
        $roots += @{ path = "$env:SystemRoot\$w"; depth = 2 }
    }
    foreach ($u in @(Get-ChildItem -LiteralPath "$env:SystemDrive\Users" -Directory -Force -ErrorAction SilentlyContinue)) {
        if ([string]$u.Attributes -notlike '*ReparsePoint*') {
            $roots += @{ path = (Join-Path $u.FullName 'AppData\Local\Temp'); depth = 3 }
            $roots += @{ path = (Join-Path $u.FullName 'Downloads'); depth = 3 }
        }
    }
    $queue = @{}
    $qn = 0
    foreach ($pl in $roots) { $queue[$qn] = $pl; $qn++ }
    $seen = @{}
    $hitSeen = @{}
    $hits = @()
    $denied = @()
    $deniedCount = 0
    $otherErrors = 0
    $reparse = @()
    $reparseCount = 0
    $searched = @()
    $folders = 0
    $i = 0
    while ($i -lt $qn) {
        if ((Get-Date) -gt $deadline -or $folders -ge 50000) { $bin.incomplete = "stopped after $folders folders (90 s / 50000 folders)"; break }
        $pl = $queue[$i]; $i++
        if (-not $pl.path) { continue }
        # The seen-check keeps the deepest depth asked for: C:\Tools on PATH (depth 0) does not hide
        # the depth-3 search of C:\Tools. Hashtable keys compare case-insensitively.
        $key = $pl.path -replace '\\+$', ''
        if ($null -ne $seen[$key] -and $seen[$key] -ge $pl.depth) { continue }
        $seen[$key] = $pl.depth
        if (-not $pl.child) {
            if (-not (Test-Path -LiteralPath $pl.path)) { continue }
            $searched += $pl.path
        }
        $folders++
        $errs = $null
        $children = @(Get-ChildItem -LiteralPath $pl.path -Force -ErrorAction SilentlyContinue -ErrorVariable errs)
        foreach ($e in @($errs)) {
            if ([string]$e.FullyQualifiedErrorId -like 'DirUnauthorizedAccessError*') {
                $deniedCount++
                if ($denied.Count -lt 25) { $denied += [string]$pl.path }
            } else { $otherErrors++ }
        }
        foreach ($c in $children) {
            if ($c.PSIsContainer) {
                if ([string]$c.Attributes -like '*ReparsePoint*') {
                    $reparseCount++
                    if ($reparse.Count -lt 25) { $reparse += [string]$c.FullName }
                } elseif ($pl.depth -gt 0) { $queue[$qn] = @{ path = [string]$c.FullName; depth = $pl.depth - 1; child = $true }; $qn++ }
            } elseif ($c.Name -in $names -and $hits.Count -lt 50 -and -not $hitSeen[[string]$c.FullName]) {
                $hitSeen[[string]$c.FullName] = $true
                $hits += $c
            }
        }
    }
    $found = @()
    foreach ($h in $hits) {
        $full = [string]$h.FullName
        $entry = @{ path = $full; name = [string]$h.Name; size = [int64]$h.Length; attributes = [string]$h.Attributes }
        if ((Get-Date) -gt $deadline) { $entry.sha256_error = 'time budget exhausted'; $found += $entry; continue }
        if ([string]$h.Attributes -like '*ReparsePoint*' -or [string]$h.Attributes -like '*Offline*') {
            # A cloud placeholder would be downloaded by reading it: reported, not read.
            $entry.sha256_error = 'reparse point or offline file (placeholder, deduplicated, symlink): not read'
            $found += $entry; continue
        }
        try { $entry.sha256 = [string](Get-FileHash -LiteralPath $full -Algorithm SHA256).Hash } catch { $entry.sha256_error = Get-HardenError $_ }
        try {
            $sig = Get-AuthenticodeSignature -LiteralPath $full
            $entry.signature = [string]$sig.Status
            $entry.signer = $(if ($sig.SignerCertificate) { [string]$sig.SignerCertificate.Subject } else { $null })
        } catch { $entry.signature_error = Get-HardenError $_ }
        try { $entry.product = [string]$h.VersionInfo.ProductName } catch { }
        $found += $entry
    }
    $bin.found = @($found)
    $bin.searched = @($searched)
    $bin.folders = $folders
    $bin.denied = @($denied)
    $bin.denied_count = $deniedCount
    $bin.other_errors = $otherErrors
    $bin.reparse_skipped = @($reparse)
    $bin.reparse_skipped_count = $reparseCount
} catch { $bin.error = Get-HardenError $_ }
Write-HardenArea 'binaries' $bin

Write-HardenArea 'done' $true
