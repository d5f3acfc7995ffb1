# harden hunt snapshot (Windows PowerShell 5.1): processes (Win32_Process) and TCP connections
# (Get-NetTCPConnection). Read-only; ASCII only; no Add-Type, no New-Object, no .NET method calls,
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
$out.done = $true
$out | ConvertTo-Json -Depth 4 -Compress
