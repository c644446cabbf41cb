; Inno Setup script of the Sightline console for Windows.
;
; Built from the PyInstaller one-folder bundle (installer/console/sightline-console.spec,
; dist\sightline-console\), with the version passed in:
;
;   iscc /DAppVersion=0.1.0 installer\windows\sightline-console.iss
;
; Output: dist\sightline-console-<version>-windows-x64-setup.exe

#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=X.Y.Z installer\windows\sightline-console.iss
#endif
#define AppName "Sightline Console"
#define AppExe "sightline-console.exe"
#define BundleDir "..\..\dist\sightline-console"

[Setup]
; A fixed AppId: upgrades replace the installed version instead of adding a second one.
AppId={{6B1D3F0E-5C2A-4E8B-9A57-2F0C1D7E4A91}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Sightline
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\Sightline Console
DefaultGroupName=Sightline
DisableProgramGroupPage=yes
UninstallDisplayIcon={app}\{#AppExe}
OutputDir=..\..\dist
OutputBaseFilename=sightline-console-{#AppVersion}-windows-x64-setup
Compression=lzma2
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog
WizardStyle=modern

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"

[Run]
Filename: "{app}\{#AppExe}"; Description: "Start {#AppName}"; Flags: nowait postinstall skipifsilent
