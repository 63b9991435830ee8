<#
.SYNOPSIS
Install Enclave from this kit (Windows). Needs Python @PYTHON_VERSION@; uses no network.

.DESCRIPTION
Finds Python @PYTHON_VERSION@ (the py launcher, or python on the PATH), then runs the kit's
installer: it checks the kit's files, creates a virtual environment in the folder and
installs every wheel from the kit, each checked against its SHA-256 hash.
Exit codes: 0 installed, 1 the install failed part way (run it again), 2 the kit or this
computer is not suitable (nothing was changed), 3 installed but the self-test failed.

.EXAMPLE
.\install.ps1
.\install.ps1 "C:\Program Files\Enclave"
.\install.ps1 -Python "C:\Python311\python.exe" -NoSelfTest
.\install.ps1 -VerifyOnly
#>
[CmdletBinding()]
param(
    # Where to install; default: %LOCALAPPDATA%\Programs\Enclave.
    [Parameter(Position = 0)] [string] $Target = "",
    # The Python @PYTHON_VERSION@ program to use, when it is not found on its own.
    [string] $Python = "",
    [switch] $NoSelfTest,
    [switch] $VerifyOnly
)

$Wanted = "@PYTHON_VERSION@"

function Get-PythonVersion([string[]] $Command) {
    # "3.11" for a working Python, "" for anything else (the Microsoft Store stub too).
    try {
        $program = $Command[0]
        $before = @($Command | Select-Object -Skip 1)
        $output = & $program @before -c "import sys; print('%d.%d' % sys.version_info[:2])" 2>$null
        if ($LASTEXITCODE -eq 0 -and $output) { return ([string]($output | Select-Object -First 1)).Trim() }
    } catch { }
    return ""
}

# A user-given path is one program (it may contain spaces); "py|-3.11" is the py launcher
# with its version option.
if ($Python) { $candidates = @($Python) } else { $candidates = @("py|-$Wanted", "python", "python3") }
$chosen = $null
$tried = @()
foreach ($candidate in $candidates) {
    if ($Python) { $command = @($candidate) } else { $command = $candidate -split '\|' }
    if (-not $Python -and -not (Get-Command $command[0] -ErrorAction SilentlyContinue)) { continue }
    $found = Get-PythonVersion $command
    if ($found -eq $Wanted) { $chosen = $command; break }
    if (-not $found) { $found = "does not run" }
    $tried += "$($command -join ' ') ($found)"
}
if (-not $chosen) {
    Write-Host "Enclave needs Python $Wanted, and none was found on this computer."
    if ($tried) { Write-Host "Found instead: $($tried -join ', ')." }
    Write-Host "Install Python $Wanted from python.org (tick 'Add python.exe to PATH', or use the"
    Write-Host "py launcher), then run this again; or name it: .\install.ps1 -Python C:\path\to\python.exe"
    exit 2
}
$program = $chosen[0]
$before = @($chosen | Select-Object -Skip 1)
$pythonExe = ([string](& $program @before -c "import sys; print(sys.executable)" | Select-Object -First 1)).Trim()

# Nothing in this computer's pip settings may point pip at an index or another folder:
# no configuration file (nul is Windows' os.devnull), no index. The installer sets the
# same again for every pip call.
$env:PIP_CONFIG_FILE = "nul"
$env:PIP_NO_INDEX = "1"
foreach ($name in "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST") {
    Remove-Item "Env:$name" -ErrorAction SilentlyContinue
}

$arguments = @("-I", (Join-Path $PSScriptRoot "installer\install_enclave.py"))
if ($Target) { $arguments += $Target }
if ($NoSelfTest) { $arguments += "--no-self-test" }
if ($VerifyOnly) { $arguments += "--verify-only" }
& $pythonExe @arguments
exit $LASTEXITCODE
