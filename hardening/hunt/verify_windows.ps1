# harden verify callback (Windows PowerShell 5.1): from this host, open a NEW outbound TCP
# connection to the controller on each port and send that port's token, as an HTTP request
# "GET /HARDEN-VERIFY/<token>" made by Invoke-WebRequest (a cmdlet: allowed under Constrained
# Language Mode, unlike New-Object System.Net.Sockets.TcpClient and its .NET methods).
# Read-only; ASCII only; no Add-Type, no New-Object, no .NET method calls. Bounded: one attempt
# per port, each at most -TimeoutSec seconds, one after the other. Output: ONE JSON object.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$Callback = '@@CALLBACK@@'
$Timeout = @@TIMEOUT@@
$Attempts = @(
@@ATTEMPTS@@
)
$out = @{ harden_collector = 'windows-verify'; schema = 1; method = 'Invoke-WebRequest'; callback = $Callback }
try { $out.language_mode = [string]$ExecutionContext.SessionState.LanguageMode } catch { }
$results = @()
foreach ($a in $Attempts) {
    $r = @{ port = [int]$a.port; connected = $false; status = ''; message = ''; error_id = '' }
    try {
        $null = Invoke-WebRequest -Uri $a.uri -Method Get -UseBasicParsing -TimeoutSec $Timeout
        $r.connected = $true
        $r.status = 'Success'
    } catch {
        $r.status = [string]$_.Exception.Status
        $r.message = [string]$_.Exception.Message
        $r.error_id = [string]$_.FullyQualifiedErrorId
    }
    $results += $r
}
$out.results = @($results)
$out.done = $true
$out | ConvertTo-Json -Depth 4 -Compress
