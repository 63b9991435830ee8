@echo off
rem Install Enclave from this kit (Windows): runs install.ps1, whatever PowerShell's
rem script policy on this computer.   install.bat [FOLDER] [-NoSelfTest] [-VerifyOnly]
powershell.exe -NoProfile -ExecutionPolicy Bypass -File "%~dp0install.ps1" %*
exit /b %ERRORLEVEL%
