# harden hunt snapshot (Windows PowerShell 5.1): processes (Win32_Process) and TCP connections
# (Get-NetTCPConnection), and the autoruns that would start a shell again. Read-only; ASCII only; no Add-Type, no New-Object, no .NET method calls,
# so it runs under Constrained Language Mode. Output: ONE JSON object, ending with "done": true.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$out = @{ harden_collector = 'windows-hunt'; schema = 1; self_pid = [int]$PID }
try { $out.hostname = [string]$env:COMPUTERNAME } catch { }
try {
    $out.processes = @(Get-CimInstance -ClassName Win32_Process | Select-Object -First 20000 | ForEach-Object {
        $created = ''
        if ($_.CreationDate) { $created = Get-Date $_.CreationDate -Format o }
        @{
            pid = [int]$_.ProcessId; ppid = [int]$_.ParentProcessId; name = [string]$_.Name
            exe = [string]$_.ExecutablePath; cmdline = [string]$_.CommandLine; created = [string]$created
        }
    })
} catch { $out.processes_error = [string]$_.Exception.Message }
try {
    $out.connections = @(Get-NetTCPConnection | Select-Object -First 50000 | ForEach-Object {
        @{
            local = [string]$_.LocalAddress; lport = [int]$_.LocalPort; remote = [string]$_.RemoteAddress
            rport = [int]$_.RemotePort; state = [string]$_.State; pid = [int]$_.OwningProcess
        }
    })
} catch { $out.connections_error = [string]$_.Exception.Message }
# Autoruns (persistence): Run/RunOnce values of HKLM and of every loaded user hive (Wow6432Node
# too), services' ImagePath, scheduled tasks' actions, WMI event subscriptions (root/subscription),
# startup folders (all users and each profile). At most 4000 of each kind; a startup script's first
# 4096 characters. Failures are data ("*_error"), never the end of the snapshot.
$pst = @{}
try {
    $keys = @()
    foreach ($root in 'HKLM:\SOFTWARE', 'HKLM:\SOFTWARE\WOW6432Node') {
        foreach ($sub in 'Run', 'RunOnce') { $keys += "$root\Microsoft\Windows\CurrentVersion\$sub" }
    }
    foreach ($sid in @(Get-ChildItem -Path 'Registry::HKEY_USERS' -ErrorAction SilentlyContinue |
            Select-Object -First 256 | ForEach-Object { [string]$_.PSChildName })) {
        foreach ($root in "Registry::HKEY_USERS\$sid\Software", "Registry::HKEY_USERS\$sid\Software\WOW6432Node") {
            foreach ($sub in 'Run', 'RunOnce') { $keys += "$root\Microsoft\Windows\CurrentVersion\$sub" }
        }
    }
    $pst.run_keys = @(foreach ($k in $keys) {
        $item = Get-ItemProperty -LiteralPath $k -ErrorAction SilentlyContinue
        if ($null -eq $item) { continue }
        foreach ($prop in @($item.PSObject.Properties | Where-Object { $_.Name -notin 'PSPath', 'PSParentPath', 'PSChildName', 'PSDrive', 'PSProvider' } | Select-Object -First 256)) {
            @{ key = [string]$k; name = [string]$prop.Name; value = [string]$prop.Value }
        }
    }) | Select-Object -First 4000
} catch { $pst.run_keys_error = [string]$_.Exception.Message }
try {
    $pst.services = @(Get-CimInstance -ClassName Win32_Service | Select-Object -First 4000 | ForEach-Object {
        @{ name = [string]$_.Name; path = [string]$_.PathName; start = [string]$_.StartMode; user = [string]$_.StartName }
    })
} catch { $pst.services_error = [string]$_.Exception.Message }
try {
    $pst.tasks = @(Get-ScheduledTask | Select-Object -First 4000 | ForEach-Object {
        @{
            path = [string]$_.TaskPath; name = [string]$_.TaskName; author = [string]$_.Author
            date = [string]$_.Date; state = [string]$_.State; user = [string]$_.Principal.UserId
            actions = @($_.Actions | Select-Object -First 16 | ForEach-Object {
                @{ execute = [string]$_.Execute; arguments = [string]$_.Arguments; classid = [string]$_.ClassId }
            })
        }
    })
} catch { $pst.tasks_error = [string]$_.Exception.Message }
try {
    $pst.wmi_consumers = @(
        @(Get-CimInstance -Namespace root/subscription -ClassName CommandLineEventConsumer -ErrorAction Stop |
            Select-Object -First 1000 | ForEach-Object {
                @{ class = 'CommandLineEventConsumer'; name = [string]$_.Name
                   command = [string]$_.CommandLineTemplate; executable = [string]$_.ExecutablePath }
            }) +
        @(Get-CimInstance -Namespace root/subscription -ClassName ActiveScriptEventConsumer -ErrorAction Stop |
            Select-Object -First 1000 | ForEach-Object {
                @{ class = 'ActiveScriptEventConsumer'; name = [string]$_.Name; engine = [string]$_.ScriptingEngine
                   script = [string]$_.ScriptText; file = [string]$_.ScriptFileName }
            }))
    $pst.wmi_bindings = @(Get-CimInstance -Namespace root/subscription -ClassName __FilterToConsumerBinding -ErrorAction Stop |
        Select-Object -First 1000 | ForEach-Object {
            @{ filter = [string]$_.Filter.Name; consumer = [string]$_.Consumer.Name }
        })
} catch { $pst.wmi_error = [string]$_.Exception.Message }
try {
    $dirs = @("$env:ProgramData\Microsoft\Windows\Start Menu\Programs\StartUp") + @(Get-ChildItem -Path "$env:SystemDrive\Users" -Directory -Force -ErrorAction SilentlyContinue |
        Select-Object -First 512 | ForEach-Object { "$($_.FullName)\AppData\Roaming\Microsoft\Windows\Start Menu\Programs\Startup" })
    $pst.startup = @(foreach ($d in $dirs) {
        Get-ChildItem -LiteralPath $d -File -Force -ErrorAction SilentlyContinue | Select-Object -First 256 | ForEach-Object {
            $text = ''
            if ($_.Extension -in '.bat', '.cmd', '.ps1', '.vbs', '.js', '.wsf', '.hta', '.url') {
                $text = (@(Get-Content -LiteralPath $_.FullName -TotalCount 200 -ErrorAction SilentlyContinue) -join "`n")
                if ($text.Length -gt 4096) { $text = $text[0..4095] -join '' }
            }
            @{ path = [string]$_.FullName; size = [long]$_.Length; modified = (Get-Date $_.LastWriteTimeUtc -Format o); text = [string]$text }
        }
    }) | Select-Object -First 4000
} catch { $pst.startup_error = [string]$_.Exception.Message }
$out.persistence = $pst
$out.done = $true
$out | ConvertTo-Json -Depth 6 -Compress
